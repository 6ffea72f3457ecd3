"""The people API's bodies and answers (``routes_people.py``): login, who am I, the household, API tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chefbot.kitchen.people import MAX_NAME, MAX_PASSWORD
from chefbot.kitchen.rows import VISIBLE
from chefbot.serve.schemas import ErrorResponse, ValidationErrorResponse

PersonName = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=VISIBLE)]


class PeopleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginRequest(PeopleRequest):
    name: PersonName
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class TokenCreate(PeopleRequest):
    name: PersonName = Field(description="what the token is for (e.g. 'laptop script'); shown in the list")


class Caller(BaseModel):
    """Who a request is (``kitchen.people.Principal``)."""

    kind: Literal["person", "config_key", "open", "anonymous"] = Field(
        description="person (a session or a personal token), config_key (serve.api_keys), open (no accounts and "
        "no keys: anyone who can connect), anonymous (not logged in)"
    )
    via: Literal["session", "token", "config_key", "none"]
    person_id: int | None = None
    name: str | None = None
    household_id: int | None = None


class SessionInfo(BaseModel):
    object: Literal["session"]
    caller: Caller
    accounts: bool = Field(description="whether the kitchen has accounts (then /api/* needs a login, token or key)")
    csrf_token: str | None = Field(
        None, description="send it as X-CSRF-Token with every POST/PUT/PATCH/DELETE made with the session cookie"
    )
    expires_at: float | None = Field(None, description="when the session ends (Unix time)")


class Person(BaseModel):
    id: int
    object: Literal["person"] = "person"
    name: str
    household_id: int
    created_at: str


class Household(BaseModel):
    id: int
    name: str
    created_at: str


class PeopleList(BaseModel):
    object: Literal["list"]
    household: Household | None
    data: list[Person]


class Token(BaseModel):
    id: int
    object: Literal["api_token"] = "api_token"
    name: str
    created_at: str
    last_used_at: str | None


class TokenCreated(Token):
    token: str = Field(description="the token itself: shown this once, stored only as its SHA-256")


class TokenList(BaseModel):
    object: Literal["list"]
    data: list[Token]


class Revoked(BaseModel):
    id: int
    object: Literal["api_token"]
    deleted: Literal[True]


PEOPLE_ERRORS = {
    401: "not logged in, a wrong API key or token (invalid_api_key), or a wrong name or password (invalid_login)",
    403: "a cookie-authenticated change without the session's X-CSRF-Token (csrf_failed), or a config key or an "
    "open server asking for what only a person has (person_required)",
    404: "no such token of yours (token_not_found)",
    413: "the body is over serve.max_body_bytes",
    422: "the request does not match this schema (error.param names the field)",
    429: "too many failed logins for this name or from this address (too_many_logins): retry after Retry-After seconds",
    503: "the kitchen DB is unavailable (storage_unavailable, kitchen_db); error.message gives the cause",
    507: "the kitchen DB's disk is full (storage_full)",
}


def people_errors(*statuses: int) -> dict[int | str, dict]:
    return {
        s: {"model": ValidationErrorResponse if s == 422 else ErrorResponse, "description": PEOPLE_ERRORS[s]}
        for s in statuses
    }
