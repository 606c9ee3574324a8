from rapport.accounts.models import ApiToken, Team, User


def user_list(*, active_only: bool = False):
    qs = User.objects.select_related("team")
    return qs.filter(is_active=True) if active_only else qs


def team_list():
    return Team.objects.all()


def token_list(*, user):
    return ApiToken.objects.filter(user=user)
