"""A real IMAP server for the tests: Debian's Dovecot (dovecot-imapd), with its own config.

One instance per test module, on free localhost ports: plain IMAP with STARTTLS offered,
and IMAPS, with a self-signed certificate made by openssl for 127.0.0.1 (`cert` is the file
a client trusts it with). Users live in a passwd-file and mail in maildirs; each test makes
its own user, so tests never see each other's mail. Plaintext login is allowed (on localhost
only) for the `none` security setting.

Dovecot will not run its login processes or mail access as root. Run by an ordinary user,
everything runs as that user. Run as root (CI containers), logins run as Debian's `dovenull`
and mail as `dovecot`; those users cannot enter pytest's private tmp directory, so the
server's directory is then a fresh one under /tmp, removed afterwards.
"""

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "imap-Secret-42"
POOL = 300  # users made at start: Dovecot re-reads its passwd-file at most once a second


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    def __init__(self, root: Path):
        self.as_root = os.geteuid() == 0
        if self.as_root:
            root = Path(tempfile.mkdtemp(prefix="rapport-dovecot-"))
            root.chmod(0o755)
        self.root = root
        self.port = free_port()
        self.ssl_port = free_port()
        self.cert = root / "cert.pem"
        self.passwd = root / "passwd"
        self.process: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        self.pool: list[str] = []

    # Lifecycle ---------------------------------------------------------------------

    def start(self) -> "Dovecot":
        (self.root / "mail").mkdir(parents=True, exist_ok=True)
        self._certificate()
        self.pool = [f"u{uuid.uuid4().hex[:10]}@mail.test" for _ in range(POOL)]
        self.passwd.write_text("".join(f"{name}:{{PLAIN}}{PASSWORD}:::::\n" for name in self.pool))
        self.passwd.chmod(0o644)
        if self.as_root:
            mail = pwd.getpwnam("dovecot")
            os.chown(self.root / "mail", mail.pw_uid, mail.pw_gid)
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot stopped at start: {self.process.stderr.read().decode()}"
                                   f"\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Dovecot did not answer on port {self.port}:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        if self.as_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # Users and mail ----------------------------------------------------------------

    def new_user(self, password: str = PASSWORD) -> str:
        """A fresh user with an empty INBOX: one made at start, or for another password a
        new one, waited for until Dovecot's once-a-second re-read of the passwd-file sees it."""
        if password == PASSWORD and self.pool:
            name = self.pool.pop()
        else:
            name = f"u{uuid.uuid4().hex[:10]}@mail.test"
            with self.passwd.open("a") as lines:
                lines.write(f"{name}:{{PLAIN}}{password}:::::\n")
            time.sleep(1.1)
        self.users[name] = password
        return name

    def connect(self, user: str) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        password = self.users[user]
        if password.isascii():
            connection.login(user, password)
        else:
            connection.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
        return connection

    def append(self, user: str, raw: bytes, folder: str = '"INBOX"') -> int:
        """Deliver `raw` with IMAP APPEND; its UID in the folder."""
        connection = self.connect(user)
        try:
            kind, data = connection.append(folder, None, None, raw)
            assert kind == "OK", data
            return int(data[0].split(b"APPENDUID ")[1].split()[1].rstrip(b"]"))
        finally:
            connection.logout()

    def create_folder(self, user: str, encoded_name: str) -> None:
        connection = self.connect(user)
        try:
            kind, data = connection.create(encoded_name)
            assert kind == "OK", data
        finally:
            connection.logout()

    # Set-up ------------------------------------------------------------------------

    def _certificate(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.cert),
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True)

    def _config(self) -> str:
        if self.as_root:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
        else:
            login_user = internal_user = mail_user = pwd.getpwuid(os.getuid()).pw_name
        mail = pwd.getpwnam(mail_user)
        # Without root, nothing can chroot: the login and anvil processes run unconfined.
        chroot = "" if self.as_root else "  chroot =\n"
        root = self.root
        return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = rapport-test-{self.port}
log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
first_valid_uid = {mail.pw_uid}
last_valid_uid = {mail.pw_uid}
first_valid_gid = {mail.pw_gid}
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd}
  default_fields = uid={mail.pw_uid} gid={mail.pw_gid}
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # Without this socket the auth process cannot ask anvil, so failed logins (the tests
  # make them on purpose) add no growing delay to the next ones from 127.0.0.1.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
