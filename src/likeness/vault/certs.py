"""The studio's C2PA signing chain: an offline root CA and an ES256 leaf it issues.

C2PA validators refuse a self-signed leaf, a CA that signs, and a leaf without the
digitalSignature key usage plus an emailProtection or documentSigning EKU; this chain satisfies
all of them. The root stays the trust anchor ``verify`` checks against; only the leaf signs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# documentSigning (RFC 9336); not every cryptography release names it, so spell it out.
_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class StudioChain:
    """PEM bytes: the root certificate (trust anchor), the leaf certificate and its PKCS#8 key."""

    root_cert_pem: bytes
    leaf_cert_pem: bytes
    leaf_key_pem: bytes

    @property
    def chain_pem(self) -> bytes:
        """Leaf then root: what a C2PA signer embeds in the manifest."""
        return self.leaf_cert_pem + self.root_cert_pem


def _name(common_name: str, studio_name: str, vault_id: str | None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, studio_name),
    ]
    if vault_id:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"likeness vault {vault_id}"))
    return x509.Name(attributes)


def make_studio_chain(studio_name: str, *, years: int = 10, vault_id: str | None = None) -> StudioChain:
    """Generate a fresh root CA and an ES256 signing leaf for ``studio_name``, valid ``years`` years.

    ``vault_id`` goes into both subjects (OU), binding the chain to one vault.
    """
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=365 * years)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{studio_name} likeness root CA", studio_name, vault_id)
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{studio_name} likeness signer", studio_name, vault_id))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    return StudioChain(
        root_cert_pem=root_cert.public_bytes(serialization.Encoding.PEM),
        leaf_cert_pem=leaf_cert.public_bytes(serialization.Encoding.PEM),
        leaf_key_pem=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
