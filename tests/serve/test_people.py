"""People (issue 28, part 6; docs/KITCHEN.md, *Security model*): accounts hashed with argon2id, sessions in
HttpOnly SameSite=Strict cookies with a CSRF token for changes, rate-limited logins, personal API tokens shown once
and stored hashed, config keys still working, a tasting vote that belongs to its person, backups that keep people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg
from typer.testing import CliRunner

from chefbot.kitchen import people, tastings
from chefbot.kitchen.backup import export_db, import_file
from chefbot.kitchen.db import KitchenDB
from chefbot.serve.app import create_app
from chefbot.serve.auth import SESSION_COOKIE

PW = {"ann": "correct horse battery", "bo": "staple 0f the kitchen"}


def make_app(db_path: Path, **serve):
    cfg = serve_cfg(Path("unused"), **serve)
    cfg.kitchen.db_path = str(db_path)
    return create_app(cfg, FastGenerator())


@pytest.fixture
def household(tmp_path):
    """A kitchen DB with two people, Ann and Bo; its path."""
    path = tmp_path / "kitchen.db"
    with KitchenDB(path) as db:
        for name, pw in PW.items():
            people.add_person(db, name.capitalize(), pw)
    return path


def login(client: TestClient, name: str, password: str | None = None):
    return client.post("/api/login", json={"name": name, "password": password or PW[name.lower()]})


# -- accounts and passwords ------------------------------------------------------------------------
def test_passwords_are_stored_as_argon2id_hashes(household):
    with KitchenDB(household) as db:
        rows = db.conn.execute("SELECT name, password_hash FROM people ORDER BY name").fetchall()
    assert [r["name"] for r in rows] == ["Ann", "Bo"]
    for r in rows:
        assert r["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106's second option
        assert PW[r["name"].lower()] not in r["password_hash"]
        assert PasswordHasher().verify(r["password_hash"], PW[r["name"].lower()])


def test_account_rules(tmp_path):
    with KitchenDB(tmp_path / "k.db") as db:
        with pytest.raises(people.AccountError, match="at least 8 characters"):
            people.add_person(db, "Cy", "short")
        with pytest.raises(people.AccountError, match="visible"):
            people.add_person(db, " \u200b ", "long enough pw")
        people.add_person(db, "Cy", "long enough pw")
        with pytest.raises(people.NameTaken):
            people.add_person(db, "cY", "another long pw")  # names are unique case-insensitively
        with pytest.raises(Exception, match="CHECK constraint"):  # the schema itself refuses a non-argon2id hash
            with db.write() as c:
                c.execute(
                    "INSERT INTO people (household_id, name, password_hash, created_at) VALUES (1, 'x', 'md5$x', 't')"
                )


def test_a_hash_with_old_parameters_is_replaced_at_login(household):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PW["ann"])
    with KitchenDB(household) as db:
        with db.write() as c:
            c.execute("UPDATE people SET password_hash = ? WHERE name = 'Ann'", (weak,))
        assert people.check_login(db, "ann", PW["ann"])["name"] == "Ann"
        stored = db.conn.execute("SELECT password_hash FROM people WHERE name = 'Ann'").fetchone()[0]
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


# -- the gate: open without accounts, closed with them ---------------------------------------------
def test_without_accounts_or_keys_the_kitchen_is_open_as_before(tmp_path):
    with TestClient(make_app(tmp_path / "k.db")) as c:
        assert c.get("/api/recipes").status_code == 200
        assert c.get("/api/session").json()["caller"]["kind"] == "open"
        assert c.get("/api/recipes", headers={"Authorization": "Bearer anything"}).status_code == 200
        assert "securitySchemes" not in c.get("/openapi.json").json()["components"]
        with KitchenDB(tmp_path / "k.db") as db:  # an account made while the server runs closes it
            people.add_person(db, "Ann", PW["ann"])
        r = c.get("/api/recipes")
        assert r.status_code == 401 and "log in" in r.json()["error"]["message"]
        assert c.get("/v1/models").status_code == 401
        schemes = c.get("/openapi.json").json()["components"]["securitySchemes"]
        assert set(schemes) == {"bearer", "session"}


def test_wrong_password_and_unknown_name_are_the_same_401(household):
    with TestClient(make_app(household)) as c:
        for name, pw in (("Ann", "wrong password"), ("Nobody", PW["ann"])):
            r = c.post("/api/login", json={"name": name, "password": pw})
            assert r.status_code == 401 and r.json()["error"] == {
                "message": "wrong name or password",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_login",
            }
            assert SESSION_COOKIE not in r.cookies


def test_session_cookie_flags_and_who_am_i(household):
    with TestClient(make_app(household)) as c:
        r = login(c, "ann")
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags
        assert f"max-age={people.SESSION_S}" in flags
        body = r.json()
        assert body["caller"]["name"] == "Ann" and body["caller"]["via"] == "session" and body["csrf_token"]
        me = c.get("/api/session").json()
        assert me["caller"]["name"] == "Ann" and me["csrf_token"] == body["csrf_token"] and me["accounts"] is True
        assert c.get("/api/recipes").status_code == 200
    with KitchenDB(household) as db:  # only the id's SHA-256 is stored
        stored = [r[0] for r in db.conn.execute("SELECT id_sha256 FROM sessions")]
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert stored == [people.sha256_hex(sid)] and sid not in stored
    with TestClient(make_app(household), base_url="https://testserver") as c:
        flags = {f.strip().lower() for f in login(c, "bo").headers["set-cookie"].split(";")[1:]}
        assert "secure" in flags


def test_a_change_with_the_cookie_needs_the_csrf_token(household):
    recipe = {"title": "Toast", "ingredients": ["1 slice bread"], "directions": ["Toast it."]}
    with TestClient(make_app(household)) as c:
        csrf = login(c, "ann").json()["csrf_token"]
        r = c.post("/api/recipes", json=recipe)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
        r = c.post("/api/recipes", json=recipe, headers={"X-CSRF-Token": "not-it"})
        assert r.status_code == 403
        assert c.post("/api/recipes", json=recipe, headers={"X-CSRF-Token": csrf}).status_code == 201
        assert c.get("/api/recipes").json()["data"][0]["title"] == "Toast"  # reading needs no token


def test_logout_ends_the_session_on_the_server(household):
    with TestClient(make_app(household)) as c:
        csrf = login(c, "ann").json()["csrf_token"]
        sid = c.cookies[SESSION_COOKIE]
        assert c.post("/api/logout").status_code == 403  # logging out is a change: the token is needed
        r = c.post("/api/logout", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["caller"]["kind"] == "anonymous"
        assert SESSION_COOKIE not in c.cookies
        c.cookies.set(SESSION_COOKIE, sid)  # the old cookie, kept by someone: refused
        assert c.get("/api/recipes").status_code == 401


def test_login_attempts_are_limited_with_retry_after(household):
    with TestClient(make_app(household)) as c:
        for _ in range(5):
            assert login(c, "Ann", "wrong password").status_code == 401
        r = login(c, "Ann")  # even the right password, until the window has passed
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_logins"
        assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
        assert login(c, "bo").status_code == 200  # another account from the same address is not locked


def test_the_limiter_per_address_and_its_window():
    now = [0.0]
    limiter = people.LoginLimiter(per_account=3, per_address=4, window_s=60, clock=lambda: now[0])
    for name in ("a", "b", "c", "d"):
        assert limiter.attempt(name, "10.0.0.9") is None  # four names, one address
    assert limiter.attempt("e", "10.0.0.9") == 61  # the address is spent for the window
    assert limiter.attempt("e", "10.0.0.8") is None  # another address is not
    limiter.succeeded("e", "10.0.0.8")
    now[0] = 61.0
    assert limiter.attempt("e", "10.0.0.9") is None  # the window slid past the old failures
    for _ in range(2):
        limiter.attempt("f", "10.0.0.7")
    limiter.succeeded("f", "10.0.0.7")  # a good login forgets the account's failures
    assert all(limiter.attempt("f", "10.0.0.7") is None for _ in range(2))


# -- personal API tokens ---------------------------------------------------------------------------
def test_a_token_is_shown_once_works_and_is_revoked(household):
    with TestClient(make_app(household)) as c:
        csrf = login(c, "ann").json()["csrf_token"]
        made = c.post("/api/tokens", json={"name": "laptop script"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert token.startswith(people.TOKEN_PREFIX) and len(token) >= 40
        listed = c.get("/api/tokens").json()["data"]
        assert [t["name"] for t in listed] == ["laptop script"] and "token" not in listed[0]
        assert listed[0]["last_used_at"] is None
    with KitchenDB(household) as db:
        assert db.conn.execute("SELECT token_sha256 FROM api_tokens").fetchone()[0] == people.sha256_hex(token)
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(make_app(household)) as script:  # no cookie: the token alone
        me = script.get("/api/session", headers=bearer).json()["caller"]
        assert me["name"] == "Ann" and me["via"] == "token"
        recipe = {"title": "Tea", "ingredients": ["1 tea bag"], "directions": ["Steep."]}
        assert script.post("/api/recipes", json=recipe, headers=bearer).status_code == 201  # no CSRF for a bearer
        assert script.get("/api/tokens", headers=bearer).json()["data"][0]["last_used_at"] is not None
        tid = script.get("/api/tokens", headers=bearer).json()["data"][0]["id"]
        assert script.delete(f"/api/tokens/{tid}", headers=bearer).json()["deleted"] is True
        r = script.get("/api/recipes", headers=bearer)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_one_person_cannot_revoke_anothers_token(household):
    with TestClient(make_app(household)) as c:
        csrf = login(c, "ann").json()["csrf_token"]
        tid = c.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).json()["id"]
        csrf = login(c, "bo").json()["csrf_token"]
        r = c.delete(f"/api/tokens/{tid}", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404 and r.json()["error"]["code"] == "token_not_found"


def test_config_keys_keep_working_beside_accounts(household):
    with TestClient(make_app(household, api_keys=["script-key"])) as c:
        key = {"Authorization": "Bearer script-key"}
        assert c.get("/api/recipes", headers=key).status_code == 200
        assert c.get("/v1/models", headers=key).status_code == 200
        assert c.get("/api/session", headers=key).json()["caller"]["kind"] == "config_key"
        r = c.post("/api/tokens", json={"name": "x"}, headers=key)
        assert r.status_code == 403 and r.json()["error"]["code"] == "person_required"  # a key is no person
        assert c.get("/api/recipes", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert login(c, "ann").status_code == 200 and c.get("/v1/models").status_code == 200


# -- who voted ------------------------------------------------------------------------------------
def test_two_peoples_votes_are_attributed(household):
    with KitchenDB(household) as db:
        pid = tastings.save_pair(db, ["egg"], {"model": "served"}, {"model": "base"}, "# A", "# B")
    with TestClient(make_app(household)) as ann, TestClient(make_app(household)) as bo:
        for client, name, choice in ((ann, "ann", "A"), (bo, "bo", "B")):
            csrf = login(client, name).json()["csrf_token"]
            r = client.post(
                "/api/tastings",
                json={"pair_id": pid, "choice": choice, "rater": "someone else"},  # a person votes as themselves
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 201, r.text
            assert r.json()["rater"] == name.capitalize() and r.json()["person_id"] is not None
        csrf = {"X-CSRF-Token": ann.get("/api/session").json()["csrf_token"]}
        again = ann.post("/api/tastings", json={"pair_id": pid, "choice": "B"}, headers=csrf)
        assert again.status_code == 200 and again.json()["changed"]  # one vote per person and pair: changed
        again = ann.post("/api/tastings", json={"pair_id": pid, "choice": "A"}, headers=csrf)
        assert again.status_code == 200 and again.json()["choice"] == "A"  # ...until the pair is revealed
        # someone else typing Ann's name (a config key or open server would): not Ann's vote to change
        with KitchenDB(household) as db:
            with pytest.raises(tastings.AlreadyVoted):
                tastings.vote(db, pid, "B", "Ann")
        summary = ann.get("/api/tastings/summary").json()
    per_rater = summary["comparisons"][0]["per_rater"]
    assert set(per_rater) == {"Ann", "Bo"}
    assert per_rater["Ann"]["wins"]["served"] == 1 and per_rater["Bo"]["wins"]["base"] == 1
    with KitchenDB(household) as db:
        rows = db.conn.execute(
            "SELECT t.rater, p.name FROM tastings t JOIN people p ON p.id = t.person_id ORDER BY t.id"
        ).fetchall()
    assert [tuple(r) for r in rows] == [("Ann", "Ann"), ("Bo", "Bo")]


# -- backups and the CLI --------------------------------------------------------------------------
def test_backup_round_trip_keeps_people_tokens_and_votes_without_a_clear_password(household, tmp_path):
    with KitchenDB(household) as db:
        ann = people.check_login(db, "Ann", PW["ann"])
        token = people.create_token(db, ann["id"], "laptop")["token"]
        pid = tastings.save_pair(db, ["egg"], {"model": "served"}, {"model": "base"}, "# A", "# B")
        tastings.vote(db, pid, "A", "Ann", person_id=ann["id"])
        people.start_session(db, ann["id"])
        export_db(db, tmp_path / "backup.json")
    text = (tmp_path / "backup.json").read_text()
    assert all(pw not in text for pw in PW.values()) and token not in text
    data = json.loads(text)
    assert [p["name"] for p in data["people"]] == ["Ann", "Bo"] and data["household"]["name"] == "Household"
    assert data["tasting_pairs"][0]["votes"][0]["person"] == "Ann"
    with KitchenDB(tmp_path / "restored.db") as db:
        added = import_file(db, tmp_path / "backup.json")
        assert added["people"] == 2 and added["tasting_pairs"] == 1
        assert people.check_login(db, "Ann", PW["ann"])["name"] == "Ann"  # the same password still works
        assert people.token_principal(db, token).name == "Ann"  # and the same token
        assert db.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0  # sessions are not restored
        vote = db.conn.execute("SELECT p.name FROM tastings t JOIN people p ON p.id = t.person_id").fetchone()
        assert vote[0] == "Ann"
        assert import_file(db, tmp_path / "backup.json")["people"] == 0  # already there: skipped


def test_a_backup_with_a_clear_password_is_refused(household, tmp_path):
    with KitchenDB(household) as db:
        export_db(db, tmp_path / "backup.json")
    data = json.loads((tmp_path / "backup.json").read_text())
    data["people"][0]["password_hash"] = "hunter22hunter22"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with KitchenDB(tmp_path / "other.db") as db, pytest.raises(Exception, match=r"people\[0\]\.password_hash"):
        import_file(db, tmp_path / "bad.json")


def test_cli_user_add_list_remove(tmp_path):
    from chefbot.cli import app

    db = str(tmp_path / "k.db")
    runner = CliRunner()
    r = runner.invoke(app, ["kitchen", "user", "add", "Ann", "--db", db], input="long enough pw\nlong enough pw\n")
    assert r.exit_code == 0, r.output
    assert "long enough pw" not in r.output.replace("password for Ann", "")  # hidden at the prompt
    r = runner.invoke(app, ["kitchen", "user", "add", "Bo", "--db", db], input="long enough pw\nother words\n")
    assert r.exit_code != 0  # the two entries differ: asked again, then input runs out
    r = runner.invoke(app, ["kitchen", "user", "list", "--db", db])
    assert r.exit_code == 0 and "Ann" in r.output and "Bo" not in r.output
    r = runner.invoke(app, ["kitchen", "user", "remove", "Ann", "--db", db])
    assert r.exit_code == 0
    r = runner.invoke(app, ["kitchen", "user", "remove", "Ann", "--db", db])
    assert r.exit_code != 0 and str(r.exception) == "no person 'Ann'"  # chefbot.cli.main prints it as one line


def test_the_login_form_on_a_phone_in_headless_chromium(household, tmp_path):
    import os
    import subprocess

    from serve_support import CHROMIUM, browser_problem, live_app

    repo = Path(__file__).resolve().parents[2]
    problem = browser_problem(repo)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(household)
    with live_app(cfg, FastGenerator()) as srv:
        r = subprocess.run(
            [
                "node",
                str(Path(__file__).with_name("login_check.js")),
                srv.url,
                "Ann",
                PW["ann"],
                str(tmp_path / "login.png"),
            ],
            env=dict(os.environ, NODE_PATH=str(repo / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert r.returncode == 0, r.stderr[-4000:]
    page = json.loads(r.stdout.strip().splitlines()[-1])
    assert page["page_errors"] == []
    assert "401" in page["refused"] and "log in" in page["refused"] and page["login_open"] is True
    assert "wrong name or password" in page["wrong"]
    assert page["summary"] == "Signed in as Ann" and "401" not in page["after_login"]
    assert page["saved"] == "Phone toast"  # a change from the page: the CSRF token went with it
    assert page["rating_status"] == "You rated it 4 of 5." and page["stars_on"] == 4
    assert page["rating_summary"] == "Household: 4 of 5 from 1 rating."
    assert len(page["notes"]) == 1 and page["notes"][0].startswith("Ann: less butter next time")
    assert SESSION_COOKIE not in page["cookie_seen_by_script"]  # HttpOnly
    assert "401" in page["after_logout"]
