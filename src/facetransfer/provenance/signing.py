"""C2PA manifests: sign an output in place, with the user's certificate or a local self-signed chain.

The manifest says what happened: the target file was opened (`c2pa.opened`, with the target as the
parent ingredient, its SHA-256 recorded) and edited (`c2pa.edited`) by this tool, with the IPTC
digital source type `compositeWithTrainedAlgorithmicMedia` (a real recording with AI-made parts).
A custom assertion `org.facetransfer.provenance` repeats the target's hash and records the
watermark payload, so a manifest and an invisible mark can be matched.

Without a user certificate, a local chain is made on first use under
`$XDG_CONFIG_HOME/facetransfer/signing/` (default `~/.config/facetransfer/signing/`): a CA
certificate and an ES256 (P-256) leaf it issued. c2pa refuses a lone self-signed leaf, and needs
the leaf to carry digitalSignature key usage, the emailProtection extended key usage, and subject
and authority key identifiers. Readers report such a manifest as valid but its signer untrusted:
it proves the file is unchanged since signing and what made it, not who ran the tool.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facetransfer import TOOL_NAME, __version__
from facetransfer.errors import ProvenanceError
from facetransfer.fsutil import atomic_path, write_bytes_atomic
from facetransfer.provenance.config import ProvenanceConfig, config_dir, configured_signer_paths

logger = logging.getLogger(__name__)

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
CUSTOM_ASSERTION = "org.facetransfer.provenance"
LOCAL_ORGANIZATION = "facetransfer local signer (self-signed)"
LOCAL_CA_NAME = "facetransfer local CA"
LOCAL_LEAF_NAME = "facetransfer local signing key"
LOCAL_VALID_DAYS = 3650

# Output suffix -> MIME type c2pa signs. Matroska/WebM are not supported by c2pa 0.38.
SIGNABLE_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


@dataclass(frozen=True)
class SignerCredentials:
    """A PEM certificate chain and key, what signs with them, and whether they are the local chain."""

    cert_path: Path
    key_path: Path
    chain_pem: bytes
    key_pem: bytes
    algorithm: str
    self_signed: bool
    subject: str


def signing_dir() -> Path:
    """Folder of the local self-signed chain: `<config folder>/signing`."""
    return config_dir() / "signing"


def can_sign(path: str | Path) -> bool:
    """Whether c2pa can embed a manifest in a file with this suffix."""
    return Path(path).suffix.lower() in SIGNABLE_TYPES


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------ credentials


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ORGANIZATION),
        ]
    )


def _key_usage(*, signing: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def create_local_chain(folder: Path) -> tuple[Path, Path]:
    """Make a CA and an ES256 leaf under `folder`; returns (chain PEM path, leaf key PEM path).

    Files: `ca.pem` (CA certificate), `signer.pem` (leaf then CA), `signer.key` (leaf key, mode 0600).
    The CA's private key is not kept: nothing else is ever issued from it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=LOCAL_VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(LOCAL_CA_NAME)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(LOCAL_LEAF_NAME))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key_path, chain_path = folder / "signer.key", folder / "signer.pem"
    key_bytes = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with atomic_path(key_path) as temporary:
        temporary.write_bytes(key_bytes)
        os.chmod(temporary, 0o600)
    write_bytes_atomic(folder / "ca.pem", ca_cert.public_bytes(pem))
    # The chain last: its presence marks a complete set (see `local_credentials`).
    write_bytes_atomic(chain_path, leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    logger.info("created a self-signed C2PA signing chain in %s", folder)
    return chain_path, key_path


def _algorithm_for(key: Any, path: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ProvenanceError(
        f"{path}: unsupported key type for C2PA ({type(key).__name__}); "
        "use EC P-256/P-384/P-521, RSA or Ed25519"
    )


def load_credentials(cert_path: Path, key_path: Path, self_signed: bool) -> SignerCredentials:
    """Read and check a PEM chain and key (the key must match the first certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain_pem = cert_path.read_bytes()
        key_pem = key_path.read_bytes()
    except OSError as error:
        raise ProvenanceError(
            f"cannot read the signing certificate or key ({error}); check the paths"
        ) from error
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as error:
        raise ProvenanceError(f"{cert_path}: not a PEM certificate chain ({error})") from error
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ProvenanceError(
            f"{key_path}: not an unencrypted PEM private key ({error}); export it without a passphrase"
        ) from error
    public_numbers = (
        certificates[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public_numbers != key_public:
        raise ProvenanceError(f"{key_path}: this key does not belong to the first certificate in {cert_path}")
    return SignerCredentials(
        cert_path=cert_path,
        key_path=key_path,
        chain_pem=chain_pem,
        key_pem=key_pem,
        algorithm=_algorithm_for(key, key_path),
        self_signed=self_signed,
        subject=certificates[0].subject.rfc4514_string(),
    )


def local_credentials() -> SignerCredentials:
    """The local self-signed chain, made on first use and reused afterwards."""
    folder = signing_dir()
    chain_path, key_path = folder / "signer.pem", folder / "signer.key"
    if not (chain_path.is_file() and key_path.is_file()):
        chain_path, key_path = create_local_chain(folder)
    return load_credentials(chain_path, key_path, self_signed=True)


def resolve_credentials(config: ProvenanceConfig) -> SignerCredentials:
    """The user's certificate (options, then config file) or else the local self-signed chain."""
    paths = configured_signer_paths(config)
    if paths is None:
        return local_credentials()
    return load_credentials(paths[0], paths[1], self_signed=False)


# ------------------------------------------------------------------ signing


def _manifest(title: str, ingredient_hash: str | None, payload: int | None) -> dict[str, Any]:
    custom: dict[str, Any] = {"tool": TOOL_NAME, "version": __version__, "synthetic_faces": True}
    if ingredient_hash is not None:
        custom["target_sha256"] = ingredient_hash
    if payload is not None:
        custom["watermark_payload"] = f"{payload:08x}"
    edited: dict[str, Any] = {
        "action": "c2pa.edited",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": {"name": TOOL_NAME, "version": __version__},
        "description": "face replaced by a trained face-swap model",
    }
    first: dict[str, Any]
    if ingredient_hash is not None:
        first = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["target"]}}
    else:
        first = {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE}
    return {
        "claim_generator_info": [{"name": TOOL_NAME, "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [first, edited]}},
            {"label": CUSTOM_ASSERTION, "data": custom},
        ],
    }


def sign_file(
    path: str | Path,
    ingredient_path: str | Path | None,
    config: ProvenanceConfig | None = None,
    payload: int | None = None,
) -> dict[str, Any]:
    """Embed a signed C2PA manifest in `path`, in place (sign to a temporary file, then rename).

    Args:
        path: a finished output (.mp4, .m4v, .mov, .png, .jpg, .webp, .tif).
        ingredient_path: the target file it was made from (recorded as parent, with its SHA-256),
            or None.
        config: signing options (certificate and key); default: `ProvenanceConfig()`.
        payload: the output's watermark payload, recorded in the manifest.

    Returns:
        {"signed": True, "self_signed", "signer", "algorithm", "certificate", "ingredient_sha256"}.

    Raises:
        ProvenanceError: unsupported format, unreadable credentials, or c2pa failing to sign.
    """
    import c2pa

    output = Path(path)
    mime = SIGNABLE_TYPES.get(output.suffix.lower())
    if mime is None:
        raise ProvenanceError(
            f"{output}: C2PA manifests cannot be embedded in '{output.suffix}' files; write "
            f"{', '.join(sorted(SIGNABLE_TYPES))}, or pass --no-provenance"
        )
    credentials = resolve_credentials(config or ProvenanceConfig())
    ingredient = Path(ingredient_path) if ingredient_path is not None else None
    ingredient_hash = sha256_file(ingredient) if ingredient is not None else None
    manifest = _manifest(output.name, ingredient_hash, payload)
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(credentials.algorithm, credentials.chain_pem, credentials.key_pem, None)
        )
        builder = c2pa.Builder(manifest)
        if ingredient is not None:
            description = {
                "title": ingredient.name,
                "relationship": "parentOf",
                "label": "target",
                "metadata": {"sha256": ingredient_hash},
            }
            ingredient_type = mimetypes.guess_type(ingredient.name)[0] or "application/octet-stream"
            with open(ingredient, "rb") as source:
                builder.add_ingredient(description, ingredient_type, source)
        with (
            atomic_path(output, suffix=output.suffix) as temporary,
            open(output, "rb") as source,
            open(temporary, "w+b") as destination,
        ):
            builder.sign(signer, mime, source, destination)
    except c2pa.C2paError as error:
        raise ProvenanceError(
            f"{output}: C2PA signing failed ({error}); check the certificate and key"
        ) from error
    summary = {
        "signed": True,
        "self_signed": credentials.self_signed,
        "signer": credentials.subject,
        "algorithm": credentials.algorithm,
        "certificate": str(credentials.cert_path),
        "ingredient_sha256": ingredient_hash,
    }
    logger.info(
        "%s: C2PA manifest signed by %s%s",
        output,
        credentials.subject,
        " (self-signed)" if credentials.self_signed else "",
    )
    return summary


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The C2PA store of `path` as a dict, with its validation state, or None when there is none."""
    import c2pa

    try:
        with c2pa.Reader(str(path)) as reader:
            store = json.loads(reader.json())
            store.setdefault("validation_state", reader.get_validation_state())
            return dict(store)
    except c2pa.C2paError as error:
        # No manifest, or a format c2pa cannot carry one in (MPEG-PS, FLV, Matroska): nothing there.
        kind = type(error).__name__
        if "ManifestNotFound" in kind or "NotSupported" in kind:
            return None
        raise ProvenanceError(f"{path}: C2PA manifest could not be read ({error})") from error
