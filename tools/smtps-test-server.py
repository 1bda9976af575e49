"""An SMTP server with implicit TLS (SMTPS, the `smtps://` scheme), for the
notifications' implicit-TLS test: the TLS handshake comes first, then AUTH
(PLAIN/LOGIN, user `test`, password `test`) is required. Built on the same
aiosmtpd as the STARTTLS test server; run it with that server's Python.

usage: python smtps-test-server.py PORT DIR
  DIR holds cert.pem and key.pem (tools/smtp-test-cert.sh makes them, signed
  by DIR/ca.pem); each accepted message is written to DIR/NNNNNN.eml and one
  JSON line to DIR/messages.jsonl: {"file","mail_from","rcpt_tos","auth_login","tls"}.
"""
import json
import os
import signal
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, mail_dir):
        self.mail_dir = mail_dir
        self.lock = threading.Lock()
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            name = '%06d.eml' % self.count
            with open(os.path.join(self.mail_dir, name), 'wb') as f:
                f.write(envelope.original_content or envelope.content)
            login = getattr(session.auth_data, 'login', None)
            rec = {
                'file': name,
                'mail_from': envelope.mail_from,
                'rcpt_tos': envelope.rcpt_tos,
                'auth_login': login.decode() if isinstance(login, bytes) else login,
                # aiosmtpd fills `session.ssl` only after STARTTLS.
                'tls': server.transport.get_extra_info('ssl_object') is not None,
            }
            with open(os.path.join(self.mail_dir, 'messages.jsonl'), 'a') as f:
                f.write(json.dumps(rec) + '\n')
        return '250 2.0.0 Message accepted for delivery'


def main():
    # AUTH without STARTTLS is what implicit TLS is: the session is encrypted.
    warnings.filterwarnings('ignore', message='Requiring AUTH while not requiring TLS')
    port, mail_dir = int(sys.argv[1]), sys.argv[2]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == b'test' and auth_data.password == b'test')
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(mail_dir, 'cert.pem'), os.path.join(mail_dir, 'key.pem'))
    controller = Controller(
        Sink(mail_dir), hostname='127.0.0.1', port=port, ssl_context=ctx,
        server_hostname='localhost', authenticator=authenticator,
        # The whole session is encrypted from the first byte (implicit TLS).
        auth_required=True, auth_require_tls=False,
    )
    controller.start()
    print('SMTPS on 127.0.0.1:%d, mail in %s' % (port, mail_dir), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    controller.stop()


if __name__ == '__main__':
    main()
