"""Credential directories and files another user owns or can write are refused, as
ssh refuses a ~/.ssh others can change (issue 20, item 2).

How the other user is played: the real CLI runs as ``nobody`` (setpriv), the user
under attack; the attacker's directories, files and links are made by root and
given to ``OTHER_UID`` with ``chown``/``lchown``, exactly what that user would have
left there (``support.other_users``). The container case runs the commands as root,
the container's user (in this process, with a fake IO), over a directory that belongs
to ``OTHER_UID``, the host's user.
Every test here failed on the code before the fix: the directory was used, the
planted login served, the link followed.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import clean_env, run_in_process
from support.other_users import (
    NOBODY_GID,
    NOBODY_UID,
    OTHER_GID,
    OTHER_UID,
    owned_dir,
    owned_file,
    owned_link,
    run_cli_as_nobody,
    shared_base,
)

PLANTED_KEY = "sk-planted-by-another-user-0123456789"
OWN_KEY = "sk-test-victims-own-key-0123456789"
PRECIOUS = '{"a file": "the victim must not lose"}'


def api_key_document(key: str) -> str:
    return json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": key}, indent=2)


@pytest.fixture
def base() -> Iterator[Path]:
    with shared_base() as path:
        yield path


@pytest.fixture
def precious(base: Path) -> Path:
    """A file in the victim's (nobody's) private directory, which a link may aim at."""
    private = owned_dir(base / "victim-private", NOBODY_UID, NOBODY_GID)
    return owned_file(private / "precious.json", PRECIOUS, NOBODY_UID, NOBODY_GID)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- directories ---------------------------------------------------------------------


def test_a_codex_home_another_user_owns_is_refused_not_served(base: Path) -> None:
    home = owned_dir(base / "theirs", OTHER_UID, OTHER_GID, 0o755)
    owned_file(home / "auth.json", api_key_document(PLANTED_KEY), OTHER_UID, OTHER_GID, 0o644)
    token = run_cli_as_nobody("token", home=home)
    assert token.returncode == 1
    assert PLANTED_KEY not in token.stdout
    line = one_error_line(token.stderr)
    assert f"refusing to use {home}: it belongs to uid {OTHER_UID}, not to you" in line
    assert "CODEX_LOGIN_TRUST_OWNER=4242" in line
    status = run_cli_as_nobody("status", home=home)
    assert status.returncode == 1
    assert "refusing to use" in status.stderr


@pytest.mark.parametrize(
    ("mode", "gid", "whom"),
    [
        pytest.param(0o777, NOBODY_GID, "every user", id="other-writable"),
        pytest.param(0o770, OTHER_GID, f"the group gid {OTHER_GID}", id="group-writable"),
    ],
)
def test_a_codex_home_others_can_write_in_is_refused_and_left_as_it_is(
    base: Path, mode: int, gid: int, whom: str
) -> None:
    home = owned_dir(base / "loose", NOBODY_UID, gid, mode)
    login = run_cli_as_nobody("login", "--with-api-key", home=home, stdin=OWN_KEY)
    assert login.returncode == 1
    line = one_error_line(login.stderr)
    assert f"its mode {mode:04o} lets {whom} write in it" in line
    assert f"run `chmod 700 {home}`" in line
    assert list(home.iterdir()) == []  # not a lock file, not a temp file
    assert stat.S_IMODE(home.stat().st_mode) == mode


def test_a_sticky_shared_directory_like_tmp_is_refused(base: Path) -> None:
    shared = base / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)  # root's, as /tmp is
    login = run_cli_as_nobody("login", "--with-api-key", home=shared, stdin=OWN_KEY)
    assert login.returncode == 1
    line = one_error_line(login.stderr)
    assert f"refusing to use {shared}: it is a shared directory (mode 1777, like /tmp)" in line
    assert "mkdir -m 700 DIR" in line
    assert list(shared.iterdir()) == []


def test_a_private_codex_home_of_ones_own_still_works(base: Path) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID, 0o755)
    login = run_cli_as_nobody("login", "--with-api-key", home=home, stdin=OWN_KEY)
    assert login.returncode == 0, login.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700  # tightened, as before
    assert (home / "auth.json").stat().st_uid == NOBODY_UID
    token = run_cli_as_nobody("token", home=home)
    assert (token.returncode, token.stdout) == (0, f"{OWN_KEY}\n"), token.stderr


# -- files ---------------------------------------------------------------------------


def test_a_planted_auth_json_is_refused_not_served(base: Path) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    planted = owned_file(
        home / "auth.json", api_key_document(PLANTED_KEY), OTHER_UID, OTHER_GID, 0o644
    )
    token = run_cli_as_nobody("token", home=home)
    assert token.returncode == 1
    assert PLANTED_KEY not in token.stdout
    line = one_error_line(token.stderr)
    assert f"refusing to use {planted}: it belongs to uid {OTHER_UID}" in line
    assert f"`rm {planted}`" in line


def test_an_auth_json_others_can_write_to_is_refused(base: Path) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID, 0o755)
    path = owned_file(home / "auth.json", api_key_document(OWN_KEY), NOBODY_UID, NOBODY_GID)
    path.chmod(0o666)
    token = run_cli_as_nobody("token", home=home)
    assert token.returncode == 1
    assert OWN_KEY not in token.stdout
    assert f"its mode 0666 lets other users change it; run `chmod 600 {path}`" in token.stderr


# -- links ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("logout", "--local"), id="logout-deleted-the-target"),
        pytest.param(("import", "--force"), id="import-overwrote-the-target"),
    ],
)
def test_a_link_planted_in_a_directory_another_user_owns_is_not_followed(
    base: Path, precious: Path, command: tuple[str, ...]
) -> None:
    """The reported attack: the other user's directory as CODEX_HOME, an auth.json
    link there to a file in the victim's private directory."""
    home = owned_dir(base / "theirs", OTHER_UID, OTHER_GID, 0o755)
    link = owned_link(home / "auth.json", precious, OTHER_UID, OTHER_GID)
    result = run_cli_as_nobody(*command, home=home, stdin=api_key_document(OWN_KEY))
    assert result.returncode == 1
    assert f"refusing to use {home}: it belongs to uid {OTHER_UID}" in one_error_line(result.stderr)
    assert precious.read_text() == PRECIOUS
    assert link.is_symlink()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("logout", "--local"), id="logout"),
        pytest.param(("import", "--force"), id="import"),
        pytest.param(("token",), id="token"),
    ],
)
def test_a_link_another_user_made_is_not_followed_even_in_ones_own_directory(
    base: Path, precious: Path, command: tuple[str, ...]
) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    link = owned_link(home / "auth.json", precious, OTHER_UID, OTHER_GID)
    result = run_cli_as_nobody(*command, home=home, stdin=api_key_document(OWN_KEY))
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert f"refusing to follow {link}: the link belongs to uid {OTHER_UID}" in line
    assert precious.read_text() == PRECIOUS
    assert link.is_symlink()


def test_ones_own_link_into_another_users_directory_is_not_followed(base: Path) -> None:
    """The target's directory must be the user's too: there the other user could swap
    the file the link names."""
    theirs = owned_dir(base / "theirs", OTHER_UID, OTHER_GID, 0o777)
    target = owned_file(
        theirs / "auth.json", api_key_document(PLANTED_KEY), NOBODY_UID, NOBODY_GID, 0o600
    )
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    owned_link(home / "auth.json", target, NOBODY_UID, NOBODY_GID)
    token = run_cli_as_nobody("token", home=home)
    assert token.returncode == 1
    assert PLANTED_KEY not in token.stdout
    line = one_error_line(token.stderr)
    assert f"refusing to follow {home / 'auth.json'} to {target}: refusing to use {theirs}" in line


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("logout", "--local"), id="logout"),
        pytest.param(("import", "--force"), id="import"),
        pytest.param(("token",), id="token"),
    ],
)
def test_a_second_link_another_user_made_behind_ones_own_is_not_followed(
    base: Path, precious: Path, command: tuple[str, ...]
) -> None:
    """The user's own link leads through a shared directory where the other user put a
    link of theirs to a file of the user's: every link on the way must be trusted,
    not only the first one (resolving the whole chain at once followed theirs)."""
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # root's, as /tmp is
    stale = owned_dir(shared / "stale", OTHER_UID, OTHER_GID, 0o755)
    theirs = owned_link(stale / "auth.json", precious, OTHER_UID, OTHER_GID)
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    owned_link(home / "auth.json", theirs, NOBODY_UID, NOBODY_GID)
    result = run_cli_as_nobody(*command, home=home, stdin=api_key_document(OWN_KEY))
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert f"refusing to follow {theirs}: the link belongs to uid {OTHER_UID}" in line
    assert precious.read_text() == PRECIOUS
    assert theirs.is_symlink()


def test_a_chain_of_ones_own_links_is_followed(base: Path) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    dotfiles = owned_dir(base / "dotfiles", NOBODY_UID, NOBODY_GID)
    store = owned_dir(base / "store", NOBODY_UID, NOBODY_GID)
    target = store / "auth.json"
    middle = owned_link(dotfiles / "auth.json", Path("../store/auth.json"), NOBODY_UID, NOBODY_GID)
    owned_link(home / "auth.json", middle, NOBODY_UID, NOBODY_GID)
    imported = run_cli_as_nobody("import", home=home, stdin=api_key_document(OWN_KEY))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(target.read_text())["OPENAI_API_KEY"] == OWN_KEY
    token = run_cli_as_nobody("token", home=home)
    assert (token.returncode, token.stdout) == (0, f"{OWN_KEY}\n"), token.stderr


def test_ones_own_link_to_ones_own_dotfiles_still_works(base: Path) -> None:
    home = owned_dir(base / "mine", NOBODY_UID, NOBODY_GID)
    dotfiles = owned_dir(base / "dotfiles", NOBODY_UID, NOBODY_GID)
    target = dotfiles / "auth.json"
    link = owned_link(home / "auth.json", target, NOBODY_UID, NOBODY_GID)
    imported = run_cli_as_nobody("import", home=home, stdin=api_key_document(OWN_KEY))
    assert imported.returncode == 0, imported.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["OPENAI_API_KEY"] == OWN_KEY
    token = run_cli_as_nobody("token", home=home)
    assert (token.returncode, token.stdout) == (0, f"{OWN_KEY}\n"), token.stderr
    logout = run_cli_as_nobody("logout", "--local", home=home)
    assert logout.returncode == 0, logout.stderr
    assert not target.exists()
    assert not link.is_symlink()


# -- the container case: CODEX_LOGIN_TRUST_OWNER -------------------------------------


@pytest.fixture
def mounted_home(base: Path) -> Path:
    """A CODEX_HOME as a bind mount shows it in a container running as root: the
    host user's (OTHER_UID) directory and login."""
    home = owned_dir(base / "mounted", OTHER_UID, OTHER_GID)
    owned_file(home / "auth.json", api_key_document(OWN_KEY), OTHER_UID, OTHER_GID)
    return home


def run_as_root(*args: str, home: Path, stdin: str = "", **env: str) -> tuple[int, str, str]:
    """The command called in this process (root, as the container's user is): what is
    tested is whose files root trusts and leaves behind, not a process of its own."""
    result = run_in_process(*args, env=clean_env(home, **env), stdin=stdin)
    return result.returncode, result.stdout, result.stderr


def test_root_refuses_a_directory_another_user_owns_and_names_the_opt_in(
    mounted_home: Path,
) -> None:
    code, out, err = run_as_root("token", home=mounted_home)
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert f"it belongs to uid {OTHER_UID}, not to you, root (uid 0), who could" in line
    assert f"set CODEX_LOGIN_TRUST_OWNER={OTHER_UID}" in line


@pytest.mark.parametrize("named", [str(OTHER_UID), " 4242 "])
def test_the_opt_in_trusts_the_named_owner(mounted_home: Path, named: str) -> None:
    code, out, err = run_as_root("token", home=mounted_home, CODEX_LOGIN_TRUST_OWNER=named)
    assert (code, out) == (0, f"{OWN_KEY}\n"), err


def test_roots_writes_in_a_trusted_directory_stay_its_owners(mounted_home: Path) -> None:
    """The host user must go on using the login and the locks the container wrote."""
    code, _, err = run_as_root(
        "login",
        "--with-api-key",
        home=mounted_home,
        stdin=PLANTED_KEY,
        CODEX_LOGIN_TRUST_OWNER=str(OTHER_UID),
    )
    assert code == 0, err
    assert json.loads((mounted_home / "auth.json").read_text())["OPENAI_API_KEY"] == PLANTED_KEY
    for name in ("auth.json", "auth.lock", "auth.json.lock"):
        info = (mounted_home / name).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (
            OTHER_UID,
            OTHER_GID,
            0o600,
        ), name
    assert mounted_home.stat().st_uid == OTHER_UID
    assert stat.S_IMODE(mounted_home.stat().st_mode) == 0o700


def test_the_opt_in_takes_a_user_name(base: Path) -> None:
    home = owned_dir(base / "mounted", NOBODY_UID, NOBODY_GID)
    owned_file(home / "auth.json", api_key_document(OWN_KEY), NOBODY_UID, NOBODY_GID)
    code, out, err = run_as_root("token", home=home, CODEX_LOGIN_TRUST_OWNER="nobody")
    assert (code, out) == (0, f"{OWN_KEY}\n"), err


def test_root_removes_the_temp_files_its_killed_writes_left_for_the_trusted_owner(
    mounted_home: Path,
) -> None:
    """Root's temp files there belong to the host user (so the host can use them);
    one a killed root writer left is still root's to clean up, as its own would be."""
    leftover = owned_file(mounted_home / ".auth-leftover", "{}", OTHER_UID, OTHER_GID)
    stranger = owned_file(mounted_home / ".auth-stranger", "{}", NOBODY_UID, NOBODY_GID)
    code, _, err = run_as_root(
        "import",
        "--force",
        home=mounted_home,
        stdin=api_key_document("sk-test-a-newer-login-0123456789"),
        CODEX_LOGIN_TRUST_OWNER=str(OTHER_UID),
    )
    assert code == 0, err
    assert not leftover.exists()
    assert stranger.exists()  # another user's file is never deleted


def test_the_opt_in_trusts_only_the_owner_it_names(mounted_home: Path) -> None:
    code, out, err = run_as_root("token", home=mounted_home, CODEX_LOGIN_TRUST_OWNER="4243")
    assert (code, out) == (1, "")
    assert f"it belongs to uid {OTHER_UID}" in one_error_line(err)
    # In the trusted directory, a file a third user planted is still refused.
    planted = mounted_home / "auth.json"
    os.chown(planted, OTHER_UID + 1, OTHER_GID)
    code, out, err = run_as_root("token", home=mounted_home, CODEX_LOGIN_TRUST_OWNER="4242")
    assert (code, out) == (1, "")
    assert f"refusing to use {planted}: it belongs to uid {OTHER_UID + 1}" in one_error_line(err)


def test_an_opt_in_naming_nobody_known_is_a_clear_error(mounted_home: Path) -> None:
    code, out, err = run_as_root("token", home=mounted_home, CODEX_LOGIN_TRUST_OWNER="no-such")
    assert (code, out) == (1, "")
    assert "CODEX_LOGIN_TRUST_OWNER='no-such' is neither a uid nor a user" in one_error_line(err)
