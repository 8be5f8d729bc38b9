"""The one TLS-context factory (net/tls.py): a server context and a verifying client context meet."""

from __future__ import annotations

import asyncio
import ssl

import pytest
import trustme

from presence_desktop.net.tls import client_ssl_context, server_ssl_context


@pytest.fixture
def pems(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca_file, chain, key = tmp_path / "ca.pem", tmp_path / "chain.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return str(ca_file), chain, key


async def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_client_trusts_the_named_ca_and_verifies(pems):
    ca_file, chain, key = pems
    client = client_ssl_context(ca_file)
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    assert client_ssl_context(ca_file) is client  # one shared context per CA set
    await _handshake(server_ssl_context(chain, key), client)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ssl_context(chain, key), client_ssl_context(None))


def test_server_context_refuses_a_missing_key(pems, tmp_path):
    _, chain, _ = pems
    with pytest.raises(OSError):
        server_ssl_context(chain, tmp_path / "absent.pem")
