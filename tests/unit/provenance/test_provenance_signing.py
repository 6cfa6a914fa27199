"""C2PA signing: the local self-signed chain, a user certificate, validation, tampering, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from facetransfer.media import VideoWriter, read_frames
from facetransfer.provenance import ProvenanceConfig, ProvenanceError, can_sign, make_payload, sign_file
from facetransfer.provenance.signing import (
    DIGITAL_SOURCE_TYPE,
    create_local_chain,
    read_manifest,
    sha256_file,
    signing_dir,
)
from facetransfer.provenance.verify import check_manifest

PAYLOAD = make_payload(0x00C2FA)


@pytest.fixture
def small_mp4(tmp_path: Path) -> Path:
    path = tmp_path / "small.mp4"
    with VideoWriter(path, width=64, height=48, fps=25, preset="ultrafast") as writer:
        for index in range(5):
            writer.write(np.full((48, 64, 3), 30 + 30 * index, dtype=np.uint8))
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "target.bin"
    path.write_bytes(b"the target video's bytes")
    return path


def test_local_chain_is_created_once_under_the_config_home(
    small_mp4: Path, target: Path, private_config_home: Path
) -> None:
    assert signing_dir() == private_config_home / "facetransfer" / "signing"
    summary = sign_file(small_mp4, target, ProvenanceConfig(), payload=PAYLOAD)
    assert summary["signed"] and summary["self_signed"]
    assert "facetransfer" in summary["signer"]
    assert summary["ingredient_sha256"] == sha256_file(target)
    chain = signing_dir() / "signer.pem"
    key = signing_dir() / "signer.key"
    assert chain.is_file() and key.is_file() and (key.stat().st_mode & 0o077) == 0
    first = chain.read_bytes()
    sign_file(small_mp4, None)  # re-signing an already signed file works too
    assert chain.read_bytes() == first  # reused, not regenerated

    leaf, ca = x509.load_pem_x509_certificates(first)
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    authority = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_subject_key = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert authority.key_identifier == ca_subject_key.digest
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_manifest_reads_back_valid_with_the_expected_claims(small_mp4: Path, target: Path) -> None:
    sign_file(small_mp4, target, ProvenanceConfig(), payload=PAYLOAD)
    check = check_manifest(small_mp4)
    assert check.present and check.valid and not check.trusted
    assert check.self_signed and check.failures == []
    assert check.actions == ["c2pa.opened", "c2pa.edited"]
    assert check.digital_source_type == DIGITAL_SOURCE_TYPE
    assert check.claim_generator is not None and check.claim_generator.startswith("facetransfer")
    assert check.watermark_payload == f"{PAYLOAD:08x}"
    store = read_manifest(small_mp4)
    assert store is not None
    active = store["manifests"][store["active_manifest"]]
    ingredient = active["ingredients"][0]
    assert ingredient["relationship"] == "parentOf" and ingredient["title"] == "target.bin"
    assert ingredient["metadata"]["sha256"] == sha256_file(target)
    # The signed file still decodes as the same video.
    assert len(list(read_frames(small_mp4))) == 5


def test_no_ingredient_records_a_creation(small_mp4: Path) -> None:
    sign_file(small_mp4, None)
    assert check_manifest(small_mp4).actions == ["c2pa.created", "c2pa.edited"]


def test_tampering_invalidates_the_manifest(small_mp4: Path) -> None:
    sign_file(small_mp4, None)
    data = bytearray(small_mp4.read_bytes())
    data[data.find(b"mdat") + 40] ^= 0xFF
    small_mp4.write_bytes(bytes(data))
    check = check_manifest(small_mp4)
    assert check.present and not check.valid
    assert any("mismatch" in code for code in check.failures)


def test_user_certificate_from_options_and_from_config_file(
    small_mp4: Path, tmp_path: Path, private_config_home: Path
) -> None:
    chain, key = create_local_chain(tmp_path / "my_ca")
    summary = sign_file(small_mp4, None, ProvenanceConfig(sign_cert=str(chain), sign_key=str(key)))
    assert summary["signed"] and not summary["self_signed"]
    assert summary["certificate"] == str(chain)
    assert check_manifest(small_mp4).valid
    assert not (signing_dir() / "signer.pem").exists()  # the local chain was not needed

    config_file = private_config_home / "facetransfer" / "config.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(f'[provenance]\nsign_cert = "{chain}"\nsign_key = "{key}"\n')
    assert not sign_file(small_mp4, None)["self_signed"]


def test_refusals(small_mp4: Path, tmp_path: Path) -> None:
    mkv = tmp_path / "clip.mkv"
    mkv.write_bytes(b"not signed")
    assert not can_sign(mkv) and can_sign(small_mp4) and can_sign("x.PNG")
    with pytest.raises(ProvenanceError, match="cannot be embedded"):
        sign_file(mkv, None)
    chain_a, _ = create_local_chain(tmp_path / "a")
    _, key_b = create_local_chain(tmp_path / "b")
    with pytest.raises(ProvenanceError, match="does not belong"):
        sign_file(small_mp4, None, ProvenanceConfig(sign_cert=str(chain_a), sign_key=str(key_b)))
    with pytest.raises(ProvenanceError, match="both"):
        ProvenanceConfig(sign_cert=str(chain_a))
    with pytest.raises(ProvenanceError, match="cannot read"):
        sign_file(small_mp4, None, ProvenanceConfig(sign_cert=str(tmp_path / "no.pem"), sign_key=str(key_b)))
    assert check_manifest(small_mp4).present is False  # nothing was written by the failed attempts
    assert sorted(p.name for p in small_mp4.parent.glob(".*")) == []


def test_unsigned_and_unsupported_files_have_no_manifest(shared_data: Path, small_mp4: Path) -> None:
    assert read_manifest(small_mp4) is None
    assert read_manifest(shared_data / "video/grid/bbaf2n.mpg") is None  # MPEG-PS: not a C2PA format
    assert read_manifest(shared_data / "image/faces/obama.jpg") is None
