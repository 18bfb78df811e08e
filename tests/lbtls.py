"""Certificates for the TLS tests, made by Debian's openssl as an operator
would (key and certificate in separate files), and what a server presents.
"""
import os
import socket
import ssl
import subprocess

from lbtest import recv_all


def make_pair(directory, stem, names=("localhost",), ips=("127.0.0.1",)):
    """A self-signed P-256 certificate for names (and ips), valid 30 days:
    (stem.crt, stem.key) in directory."""
    os.makedirs(directory, exist_ok=True)
    crt = os.path.join(directory, f"{stem}.crt")
    key = os.path.join(directory, f"{stem}.key")
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{i}" for i in ips])
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
         "-days", "30", "-subj", f"/CN={names[0]}", "-addext",
         f"subjectAltName={san}"], check=True, capture_output=True)
    return crt, key


def make_expired(directory, stem):
    """A pair whose certificate expired a day ago (openssl x509 -days -1)."""
    crt, key = make_pair(directory, stem)
    csr = os.path.join(directory, f"{stem}.csr")
    subprocess.run(["openssl", "req", "-new", "-key", key, "-subj",
                    "/CN=localhost", "-out", csr], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-signkey", key,
                    "-days", "-1", "-out", crt], check=True,
                   capture_output=True)
    return crt, key


def der(crt):
    """The DER bytes of the first certificate in a PEM file."""
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def client_context(*cafiles):
    """A client that trusts exactly these certificates (verify on)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ca in cafiles:
        ctx.load_verify_locations(ca)
    return ctx


def unverified_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def presented(port, server_name=None, timeout=5):
    """The DER certificate the server at 127.0.0.1:port presents to a client
    asking for server_name (None: no SNI)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with unverified_context().wrap_socket(
                s, server_hostname=server_name) as t:
            return t.getpeercert(binary_form=True)


def https_get(port, path="/home", ctx=None, server_name="localhost",
              timeout=5, source="127.0.0.1"):
    """One GET on a new TLS connection: (status line, body)."""
    ctx = ctx or unverified_context()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        with ctx.wrap_socket(s, server_hostname=server_name) as t:
            t.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = recv_all(t)
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body
