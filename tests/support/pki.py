"""A throwaway PKI made with ``openssl``: a CA, certificates it signs, expired ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs


@attrs.frozen
class Cert:
    key: Path
    cert: Path


class Pki:
    """Certificates in *directory*; every call runs ``openssl`` (EC P-256, fast)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def _run(self, *argv: str) -> None:
        subprocess.run(["openssl", *argv], check=True, capture_output=True, timeout=60)

    def _key(self, name: str) -> Path:
        key = self.dir / f"{name}-privkey.pem"
        self._run(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)
        )
        return key

    def ca(self, name: str) -> Cert:
        """A self-signed CA certificate."""
        key = self._key(name)
        cert = self.dir / f"{name}-cacert.pem"
        self._run(
            "req", "-x509", "-new", "-key", str(key), "-out", str(cert),
            "-days", "3650", "-subj", f"/CN={name}",
        )  # fmt: skip
        return Cert(key, cert)

    def cert(self, name: str, ca: Cert, *, days: int = 365) -> Cert:
        """A certificate signed by *ca*; ``days=-1`` makes one that has expired."""
        key = self._key(name)
        csr = self.dir / f"{name}-req.pem"
        cert = self.dir / f"{name}-cert.pem"
        self._run("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        self._run(
            "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
            "-CAcreateserial", "-out", str(cert), "-days", str(days),
        )  # fmt: skip
        return Cert(key, cert)
