"""The devstack's local certificate authority: made at first start, kept in the state folder.

AWS serves only https/wss, and AWS's own JS client always connects with ``wss://``, so the local
servers speak TLS too. Clients trust this CA only when a profile names it (``ca_file``).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LocalCA:
    """Paths of the CA certificate and the server certificate chain + key (PEM files)."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path

    @classmethod
    def load_or_create(cls, state_dir: Path) -> LocalCA:
        """Reuse the CA in ``state_dir/tls`` or create one; the key files are mode 0600."""
        tls_dir = Path(state_dir) / "tls"
        ca = cls(tls_dir / "ca.pem", tls_dir / "server-chain.pem", tls_dir / "server-key.pem")
        if ca.ca_file.is_file() and ca.server_cert_file.is_file() and ca.server_key_file.is_file():
            return ca
        tls_dir.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA(organization_name="presence-desktop devstack")
        leaf = authority.issue_cert(*HOSTS)
        authority.cert_pem.write_to_path(str(ca.ca_file))
        with open(ca.server_cert_file, "wb") as fh:
            for blob in leaf.cert_chain_pems:
                fh.write(blob.bytes())
        fd = os.open(ca.server_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(leaf.private_key_pem.bytes())
        return ca

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.server_cert_file, self.server_key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the system store plus this CA."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cafile=str(self.ca_file))
        return ctx
