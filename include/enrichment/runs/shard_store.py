"""Shard manifests and results in object storage (a local folder by default, or S3).

``ENRICHMENT_SHARD_STORE`` is a folder path or ``s3://bucket/prefix``. The detect step
writes one JSON-lines manifest per shard; the shard worker writes its result file
atomically (temp file + rename locally; a single PUT on S3); the commit step reads the
results. Re-running a shard overwrites its own result and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

from enrichment.config import ConfigError
from enrichment.runs.errors import ManifestMissing


def safe_run_id(run_id: str) -> str:
    """A folder-safe form of a run id (Airflow run ids contain ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", run_id)


def manifest_name(run_id: str, shard: int) -> str:
    return f"{safe_run_id(run_id)}/manifest-{shard:05d}.jsonl"


def result_name(run_id: str, shard: int) -> str:
    return f"{safe_run_id(run_id)}/result-{shard:05d}.json"


class ShardStore:
    """Read and write manifests and results under one root (folder or S3 prefix)."""

    def __init__(self, root: str, *, s3_endpoint_url: str | None = None):
        self.root = root
        parsed = urlparse(root)
        self.is_s3 = parsed.scheme == "s3"
        if self.is_s3:
            if not parsed.netloc:
                raise ConfigError(f"ENRICHMENT_SHARD_STORE={root!r} has no bucket")
            self.bucket = parsed.netloc
            self.prefix = parsed.path.strip("/")
            self._endpoint = s3_endpoint_url
            self._client = None
        else:
            self.path = Path(root)

    @classmethod
    def from_settings(cls, settings) -> ShardStore:
        return cls(
            settings.shard_store,
            s3_endpoint_url=settings.s3_endpoint_url,
        )

    # -- low level -------------------------------------------------------------------
    def _s3(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", endpoint_url=self._endpoint)
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put_text(self, name: str, text: str) -> None:
        """Write ``text`` under ``name`` atomically."""
        if self.is_s3:
            self._s3().put_object(
                Bucket=self.bucket, Key=self._key(name), Body=text.encode("utf-8")
            )
            return
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_text(self, name: str) -> str | None:
        """The text stored under ``name``, or None when absent."""
        if self.is_s3:
            client = self._s3()
            try:
                obj = client.get_object(Bucket=self.bucket, Key=self._key(name))
            except client.exceptions.NoSuchKey:
                return None
            return obj["Body"].read().decode("utf-8")
        target = self.path / name
        return target.read_text(encoding="utf-8") if target.exists() else None

    def uri(self, name: str) -> str:
        if self.is_s3:
            return f"s3://{self.bucket}/{self._key(name)}"
        return str(self.path / name)

    # -- manifests and results -------------------------------------------------------
    def write_manifest(self, run_id: str, shard: int, items: Iterable[dict]) -> str:
        text = "".join(json.dumps(i, ensure_ascii=False, default=str) + "\n" for i in items)
        return self.put_manifest_text(run_id, shard, text)

    def put_manifest_text(self, run_id: str, shard: int, text: str) -> str:
        """Write a manifest already encoded as JSON lines; returns its URI."""
        self.put_text(manifest_name(run_id, shard), text)
        return self.uri(manifest_name(run_id, shard))

    def read_manifest(self, run_id: str, shard: int) -> list[dict]:
        text = self.get_text(manifest_name(run_id, shard))
        if text is None:
            raise ManifestMissing(
                f"no manifest for run {run_id!r} shard {shard} at "
                f"{self.uri(manifest_name(run_id, shard))}; was the detect step run?"
            )
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def write_result(self, run_id: str, shard: int, result: dict) -> str:
        self.put_text(result_name(run_id, shard), json.dumps(result, sort_keys=True, indent=1))
        return self.uri(result_name(run_id, shard))

    def read_result(self, run_id: str, shard: int) -> dict | None:
        text = self.get_text(result_name(run_id, shard))
        return json.loads(text) if text is not None else None
