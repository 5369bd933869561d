"""A local SMTP server for the mail tests (aiosmtpd): STARTTLS required, AUTH (after
TLS only) as USER/PASSWORD, every message written to OUT_DIR as N.eml.

    python smtpd.py OUT_DIR CERT KEY USER PASSWORD

Prints `READY PORT` once listening on 127.0.0.1 (a free port), and runs until its
standard input closes.
"""

import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    out, cert, key, user, password = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    count = [0]

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            count[0] += 1
            with open(os.path.join(out, f"{count[0]}.eml"), "wb") as f:
                f.write(envelope.original_content or envelope.content)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    print(f"READY {port}", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
