"""The certificates of a local cluster started with `--tls`: one CA, one certificate per node.

Generated once in the data dir and kept (`tls/ca.crt`, `tls/ca.key`, `tls/node-<i>.crt`, `tls/node-<i>.key`);
keys are written 0600 from the start and never printed. A node's certificate names 127.0.0.1, localhost
and the addresses it is reached at. The CA's path is recorded in cluster.json (`ca_file`), so the CLI
with `--data-dir` verifies the nodes.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..durable import write_file_durably

VALID_DAYS = 825


def tls_dir(data_dir: Path) -> Path:
    return data_dir / "tls"


def ca_paths(data_dir: Path) -> tuple[Path, Path]:
    return tls_dir(data_dir) / "ca.crt", tls_dir(data_dir) / "ca.key"


def node_paths(data_dir: Path, node_id: str) -> tuple[Path, Path]:
    return tls_dir(data_dir) / f"{node_id}.crt", tls_dir(data_dir) / f"{node_id}.key"


def node_env(data_dir: Path, node_id: str, hosts: list[str]) -> dict[str, str]:
    """The TASKRAFT_TLS_* settings of one node (its certificate made first if need be)."""
    cert, key = ensure_node_cert(data_dir, node_id, hosts)
    return {
        "TASKRAFT_TLS_CERT_FILE": str(cert),
        "TASKRAFT_TLS_KEY_FILE": str(key),
        "TASKRAFT_TLS_CA_FILE": str(ensure_ca(data_dir)),
    }


def ensure_ca(data_dir: Path) -> Path:
    """The CA certificate's path; the CA is made on the first call and kept."""
    cert_path, key_path = ca_paths(data_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path
    tls_dir(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "taskraft local cluster CA")])
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    write_file_durably(str(cert_path), cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert_path


def ensure_node_cert(data_dir: Path, node_id: str, hosts: list[str]) -> tuple[Path, Path]:
    """(certificate, key) of one node, signed by the CA; made on the first call and kept."""
    cert_path, key_path = node_paths(data_dir, node_id)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    ca_cert_path, ca_key_path = ca_paths(data_dir)
    ensure_ca(data_dir)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["127.0.0.1", "localhost", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"taskraft {node_id}")])
    cert = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    write_file_durably(str(cert_path), cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert_path, key_path


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_file_durably(str(path), pem)  # created 0600 (durable.py)
