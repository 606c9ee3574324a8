from django.urls import path

from rapport.sales import public_quote_views, quote_views

# Under /quotes/ (namespace "quotes").
urlpatterns = [
    path("", quote_views.quote_list, name="list"),
    path("new/", quote_views.quote_new, name="create"),
    path("<int:quote_id>/", quote_views.quote_detail, name="detail"),
    path("<int:quote_id>/edit/", quote_views.quote_edit, name="edit"),
    path("<int:quote_id>/submit/", quote_views.quote_submit, name="submit"),
    path("<int:quote_id>/approve/", quote_views.quote_review, {"decision": "approve"},
         name="approve"),
    path("<int:quote_id>/reject/", quote_views.quote_review, {"decision": "reject"},
         name="reject"),
    path("<int:quote_id>/revise/", quote_views.quote_revise, name="revise"),
    path("<int:quote_id>/delete/", quote_views.quote_delete, name="delete"),
    path("<int:quote_id>/send/", quote_views.quote_send, name="send"),
    path("<int:quote_id>/pdf/", quote_views.quote_pdf, name="pdf"),
]

# Under /settings/products/ (namespace "products").
product_urlpatterns = [
    path("", quote_views.product_settings, name="list"),
    path("new/", quote_views.product_create, name="create"),
    path("<int:product_id>/", quote_views.product_edit, name="edit"),
    path("<int:product_id>/delete/", quote_views.product_delete, name="delete"),
    path("price-books/", quote_views.price_book_create, name="price_book_create"),
    path("price-books/<int:price_book_id>/", quote_views.price_book_update,
         name="price_book_update"),
    path("price-books/<int:price_book_id>/delete/", quote_views.price_book_delete,
         name="price_book_delete"),
    path("quote-settings/", quote_views.quote_settings_update, name="quote_settings"),
]

# Under /q/ (namespace "public_quote"): the customer's pages, no login.
public_urlpatterns = [
    path("<str:token>/", public_quote_views.public_quote, name="view"),
    path("<str:token>/accept/", public_quote_views.public_accept, name="accept"),
    path("<str:token>/decline/", public_quote_views.public_decline, name="decline"),
    path("<str:token>/pdf/", public_quote_views.public_pdf, name="pdf"),
]
