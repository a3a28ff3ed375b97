#!/usr/bin/env python3
"""Independent WireGuard handshake reference, written from the WireGuard paper and
wireguard-go's noise-protocol.go / cookie.go using Python's hashlib, hmac and the
`cryptography` package (no code shared with lib/proto). It prints the known-answer vectors
embedded in handshake_kat_test.cpp; rerun it to regenerate them:

    python3 tests/unit/proto/wg_reference.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"


def HASH(*parts):
    h = hashlib.blake2s()
    for p in parts:
        h.update(p)
    return h.digest()


def MAC(key, data):
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def HMAC(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def KDF(n, key, data):
    t0 = HMAC(key, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i]))
        out.append(prev)
    return out


def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def DH(priv, public):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(public))


def AEAD(key, counter, plain, ad):
    nonce = b"\x00" * 4 + struct.pack("<Q", counter)
    return ChaCha20Poly1305(key).encrypt(nonce, plain, ad)


def tai64n(unix_ns):
    secs = 0x400000000000000A + unix_ns // 10**9
    nanos = (unix_ns % 10**9) & ~((1 << 24) - 1)
    return struct.pack(">QI", secs, nanos)


def add_macs(msg, receiver_public):
    mac1 = MAC(HASH(LABEL_MAC1, receiver_public), msg)
    return msg + mac1 + b"\x00" * 16


# Fixed inputs (also written in handshake_kat_test.cpp).
S_I = bytes(range(1, 33))            # initiator static private
S_R = bytes(range(101, 133))         # responder static private
E_I = bytes(range(201, 233))         # initiator ephemeral private
E_R = bytes([(7 * i + 3) % 256 for i in range(32)])  # responder ephemeral private
PSK = bytes([0x5A] * 32)
UNIX_NS = 1_700_000_000_123_456_789
I_INDEX = 0x11223344
R_INDEX = 0xA1B2C3D4
PAYLOAD = bytes(range(0x45, 0x45 + 21))


def handshake(psk):
    spub_i, spub_r = pub(S_I), pub(S_R)
    ck = HASH(CONSTRUCTION)
    h = HASH(ck, IDENTIFIER)
    h = HASH(h, spub_r)
    epub_i = pub(E_I)
    (ck,) = KDF(1, ck, epub_i)
    h = HASH(h, epub_i)
    ck, k = KDF(2, ck, DH(E_I, spub_r))
    enc_static = AEAD(k, 0, spub_i, h)
    h = HASH(h, enc_static)
    ck, k = KDF(2, ck, DH(S_I, spub_r))
    enc_ts = AEAD(k, 0, tai64n(UNIX_NS), h)
    h = HASH(h, enc_ts)
    init = add_macs(struct.pack("<I", 1) + struct.pack("<I", I_INDEX) + epub_i + enc_static +
                    enc_ts, spub_r)
    assert len(init) == 148

    epub_r = pub(E_R)
    h = HASH(h, epub_r)
    (ck,) = KDF(1, ck, epub_r)
    (ck,) = KDF(1, ck, DH(E_R, epub_i))
    (ck,) = KDF(1, ck, DH(E_R, spub_i))
    ck, tau, k = KDF(3, ck, psk)
    h = HASH(h, tau)
    enc_nothing = AEAD(k, 0, b"", h)
    h = HASH(h, enc_nothing)
    resp = add_macs(struct.pack("<III", 2, R_INDEX, I_INDEX) + epub_r + enc_nothing, spub_i)
    assert len(resp) == 92

    t_send_i, t_recv_i = KDF(2, ck, b"")
    padded = PAYLOAD + b"\x00" * (-len(PAYLOAD) % 16)
    data = struct.pack("<IIQ", 4, R_INDEX, 7) + AEAD(t_send_i, 7, padded, b"")
    return init, resp, t_send_i, t_recv_i, data


def main():
    for name, psk in (("no_psk", b"\x00" * 32), ("psk", PSK)):
        init, resp, send_i, recv_i, data = handshake(psk)
        print(f"// {name}")
        print(f'initiation = "{init.hex()}"')
        print(f'response = "{resp.hex()}"')
        print(f'initiator_send_key = "{send_i.hex()}"')
        print(f'initiator_recv_key = "{recv_i.hex()}"')
        print(f'transport_counter7 = "{data.hex()}"')


if __name__ == "__main__":
    main()
