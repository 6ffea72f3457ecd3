"""``/api/login``, ``/api/session``, ``/api/logout``, ``/api/people``, ``/api/tokens``: logging in and out, the household, personal API tokens.

The rules and the storage are ``chefbot.kitchen.people``; who a request is was resolved once by ``auth._Gate``
(``deps.Caller``).  Login sets the session cookie: ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
other site's page or link makes the browser send it; every page here is open and loads its data with same-origin
``fetch``, which a strict cookie accompanies, so strict costs nothing), ``Secure`` when the request came over
https, ``Path=/``, lasting ``people.SESSION_S``.  docs/KITCHEN.md, *Security model*, explains the whole model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from chefbot.kitchen import people
from chefbot.serve.api_errors import ApiError
from chefbot.serve.auth import SESSION_COOKIE
from chefbot.serve.deps import Caller, require_person
from chefbot.serve.routes_kitchen import Kitchen, RowId
from chefbot.serve.schemas import semantic_400
from chefbot.serve.schemas_people import (
    Household,
    LoginRequest,
    PeopleList,
    Person,
    Revoked,
    SessionInfo,
    Token,
    TokenCreate,
    TokenCreated,
    TokenList,
    people_errors,
)

router = APIRouter(prefix="/api", tags=["people"])
STORAGE = (503, 507)


def get_limiter(request: Request) -> people.LoginLimiter:
    return request.app.state.login_limiter


Limiter = Annotated[people.LoginLimiter, Depends(get_limiter)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _session_cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


@router.post(
    "/login",
    response_model=SessionInfo,
    responses={
        200: {"description": "logged in: the session cookie is set; keep csrf_token for changes"},
        **semantic_400("login"),
        **people_errors(401, 413, 422, 429, *STORAGE),
    },
)
def login(req: LoginRequest, request: Request, response: Response, kitchen: Kitchen, limiter: Limiter) -> SessionInfo:
    """Log in with a name and password (accounts are made with `chefbot kitchen user add NAME`)."""
    address = client_address(request)
    wait = limiter.attempt(req.name, address)
    if wait is not None:
        raise ApiError(
            429,
            f"too many failed logins for this name or from {address}: try again in {wait} s",
            "rate_limit_error",
            code="too_many_logins",
            headers={"Retry-After": str(wait)},
        )
    db = kitchen.existing()  # no kitchen file: no accounts, and none is created by a login attempt
    person = people.check_login(db, req.name, req.password) if db is not None else None
    if person is None:
        raise ApiError(401, "wrong name or password", "authentication_error", code="invalid_login")
    limiter.succeeded(req.name, address)
    old = _session_cookie(request)
    if old:  # a new login replaces this browser's session (no fixation of an old id)
        people.end_session(db, old)
    session = people.start_session(db, person["id"])
    response.set_cookie(
        SESSION_COOKIE,
        session["id"],
        max_age=people.SESSION_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SessionInfo(
        object="session",
        caller=people.principal_of(person, "session").model_dump(),
        accounts=True,
        csrf_token=session["csrf_token"],
        expires_at=session["expires_at"],
    )


@router.get("/session", response_model=SessionInfo, responses=people_errors(401, *STORAGE))
def whoami(request: Request, caller: Caller, kitchen: Kitchen) -> SessionInfo:
    """Who this request is, whether the kitchen has accounts, and (with the session cookie) the CSRF token."""
    db = kitchen.existing()
    csrf = None
    sid = _session_cookie(request)
    if caller.via == "session" and sid and db is not None:
        found = people.session_of(db, sid)
        csrf = found[1] if found else None
    accounts = db is not None and people.has_people(db)
    return SessionInfo(object="session", caller=caller.model_dump(), accounts=accounts, csrf_token=csrf)


@router.post("/logout", response_model=SessionInfo, responses=people_errors(401, 403, *STORAGE))
def logout(request: Request, response: Response, caller: Caller, kitchen: Kitchen) -> SessionInfo:
    """End this browser's session (the cookie is cleared and the session deleted on the server)."""
    sid = _session_cookie(request)
    db = kitchen.existing()
    if sid and db is not None:
        people.end_session(db, sid)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    after = caller if caller.via != "session" else people.ANONYMOUS
    return SessionInfo(object="session", caller=after.model_dump(), accounts=db is not None and people.has_people(db))


@router.get("/people", response_model=PeopleList, responses=people_errors(401, *STORAGE))
def list_people(kitchen: Kitchen) -> PeopleList:
    """The household and its people (names only: no secret is ever answered)."""
    db = kitchen.existing()
    if db is None:
        return PeopleList(object="list", household=None, data=[])
    home = people.household(db)
    return PeopleList(
        object="list",
        household=Household.model_validate(home) if home else None,
        data=[Person.model_validate(p) for p in people.list_people(db)],
    )


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses={
        201: {"description": "the new token, shown this once"},
        **semantic_400("token_create"),
        **people_errors(401, 403, 413, 422, *STORAGE),
    },
)
def create_token(req: TokenCreate, caller: Caller, kitchen: Kitchen) -> TokenCreated:
    """A long-lived personal API token (send it as `Authorization: Bearer <token>`), revocable."""
    person = require_person(caller, "only a person has API tokens")
    return TokenCreated.model_validate(people.create_token(kitchen.db, person.person_id, req.name))


@router.get("/tokens", response_model=TokenList, responses=people_errors(401, 403, 422, *STORAGE))
def list_tokens(
    caller: Caller,
    kitchen: Kitchen,
    limit: Annotated[int, Query(ge=1, le=500, description="the oldest this many")] = 100,
) -> TokenList:
    """Your tokens: name, created, last used (never the token itself)."""
    person = require_person(caller, "only a person has API tokens")
    found = people.list_tokens(kitchen.db, person.person_id)[:limit]
    return TokenList(object="list", data=[Token.model_validate(t) for t in found])


@router.delete("/tokens/{token_id:int}", response_model=Revoked, responses=people_errors(401, 403, 404, 422, *STORAGE))
def revoke_token(token_id: RowId, caller: Caller, kitchen: Kitchen) -> Revoked:
    """Revoke one of your tokens: it gets 401 from now on."""
    person = require_person(caller, "only a person has API tokens")
    people.revoke_token(kitchen.db, person.person_id, token_id)
    return Revoked(id=token_id, object="api_token", deleted=True)
