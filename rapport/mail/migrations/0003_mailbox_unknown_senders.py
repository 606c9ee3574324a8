"""A mailbox's yes/no "create contacts" becomes a choice of what an unknown sender gets: nothing,
a contact or a lead. Mailboxes that created contacts keep creating contacts."""

from django.db import migrations, models


def flag_to_choice(apps, schema_editor):
    Mailbox = apps.get_model("mail", "Mailbox")
    Mailbox.objects.filter(create_contacts=True).update(unknown_senders="contact")


def choice_to_flag(apps, schema_editor):
    Mailbox = apps.get_model("mail", "Mailbox")
    Mailbox.objects.exclude(unknown_senders="ignore").update(create_contacts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("mail", "0002_inbound_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="unknown_senders",
            field=models.CharField(
                choices=[("ignore", "Keep the message here, on no timeline"),
                         ("contact", "Create a contact (lifecycle stage lead)"),
                         ("lead", "Create a lead (assigned by the lead assignment rules)")],
                default="ignore", max_length=8),
        ),
        migrations.RunPython(flag_to_choice, choice_to_flag),
        migrations.RemoveField(
            model_name="mailbox",
            name="create_contacts",
        ),
    ]
