from datetime import datetime

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from rapport.accounts import selectors, services
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound

router = Router(tags=["users and teams"])


class UserOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    team_id: int | None
    is_active: bool
    date_joined: datetime


class UserIn(Schema):
    model_config = ConfigDict(extra="forbid")
    email: str
    full_name: str
    role: str = "sales"
    team_id: int | None = None
    password: str | None = None


class UserPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = None
    role: str | None = None
    team_id: int | None = None
    is_active: bool | None = None


class TeamOut(Schema):
    id: int
    name: str
    created_at: datetime


class TeamIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str


class Page(Schema):
    items: list
    next_cursor: str | None = None


@router.get("/users", response={200: list[UserOut], **ERRORS})
def list_users(request):
    return list(selectors.user_list())


@router.get("/users/me", response={200: UserOut, **ERRORS})
def me(request):
    return request.auth


@router.get("/users/{int:user_id}", response={200: UserOut, **ERRORS})
def get_user(request, user_id: int):
    user = selectors.user_list().filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


@router.post("/users", response={201: UserOut, **ERRORS})
def create_user(request, payload: UserIn):
    return Status(201, services.user_create(actor=request.auth, **payload.model_dump()))


@router.patch("/users/{int:user_id}", response={200: UserOut, **ERRORS})
def update_user(request, user_id: int, payload: UserPatch):
    user = selectors.user_list().filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return services.user_update(actor=request.auth, user=user,
                                **payload.model_dump(exclude_unset=True))


@router.get("/teams", response={200: list[TeamOut], **ERRORS})
def list_teams(request):
    return list(selectors.team_list())


@router.post("/teams", response={201: TeamOut, **ERRORS})
def create_team(request, payload: TeamIn):
    return Status(201, services.team_create(actor=request.auth, name=payload.name))


@router.patch("/teams/{int:team_id}", response={200: TeamOut, **ERRORS})
def rename_team(request, team_id: int, payload: TeamIn):
    team = selectors.team_list().filter(pk=team_id).first()
    if team is None:
        raise NotFound()
    return services.team_rename(actor=request.auth, team=team, name=payload.name)
