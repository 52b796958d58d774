"""`veilflow forget`: find every run, dataset and model version whose training data held a subject, and act on it.

The operator's raw value is hashed in memory (`veilflow.tasks.privacy.membership.pseudonymize_subject`, the same keyed
token as the anonymization `hash` operator) and matched against each run's membership index; only the
pseudonym is ever written (forget log, suppression list). Registry moves go through `veilflow.tasks.ops.registry`'s lock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from veilflow.core.errors import PromotionRejected
from veilflow.engines import tracking
from veilflow.tasks.ops import registry
from veilflow.tasks.ops.lifecycle import MEMBERSHIP_ARTIFACT, MEMBERSHIP_TAG
from veilflow.tasks.privacy.membership import ErasureRecord, MembershipIndex, SuppressionList, append_erasure_record

log = logging.getLogger("veilflow")

AFFECTED_TAG = "veilflow.erasure.affected"


class AffectedRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    experiment: str
    start_time: int
    fingerprint: str | None
    model_name: str | None
    versions: list[str]


class ForgetReport(BaseModel):
    """Where a subject's data went: runs, fingerprints and versions (by pseudonym; no raw value)."""

    model_config = ConfigDict(frozen=True)

    pseudonym: str
    runs_checked: int
    runs_without_index: int
    affected: list[AffectedRun]

    @property
    def run_ids(self) -> list[str]:
        return [a.run_id for a in self.affected]

    @property
    def model_versions(self) -> list[str]:
        return [f"{a.model_name}/{v}" for a in self.affected for v in a.versions]

    @property
    def fingerprints(self) -> list[str]:
        return sorted({a.fingerprint for a in self.affected if a.fingerprint})


def _training_runs(client: tracking.TrackingClient) -> list[Any]:
    runs: list[Any] = []
    for exp in client.search_experiments():
        token = None
        while True:
            page = client.search_runs(
                [exp.experiment_id], filter_string="tags.`veilflow.flow` = 'training'", max_results=500, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
    return runs


def find_subject(client: tracking.TrackingClient, pseudonym: str) -> ForgetReport:
    """Every training run whose membership index holds `pseudonym`, with its fingerprint and registered versions."""
    affected: list[AffectedRun] = []
    checked = without = 0
    with tracking.temp_dir() as tmp:
        for run in _training_runs(client):
            checked += 1
            if run.data.tags.get(MEMBERSHIP_TAG) != MEMBERSHIP_ARTIFACT:
                without += 1
                continue
            dst = tmp / run.info.run_id
            dst.mkdir()
            index = MembershipIndex.load(tracking.download_artifact(client, run.info.run_id, MEMBERSHIP_ARTIFACT, dst))
            if not index.contains(pseudonym):
                continue
            versions = sorted(client.search_model_versions(f"run_id = '{run.info.run_id}'"), key=lambda v: int(v.version))
            exp = client.get_experiment(run.info.experiment_id)
            affected.append(
                AffectedRun(
                    run_id=run.info.run_id,
                    experiment=exp.name,
                    start_time=run.info.start_time or 0,
                    fingerprint=run.data.tags.get("veilflow.data_fingerprint"),
                    model_name=versions[0].name if versions else run.data.params.get("registry.model_name"),
                    versions=[str(v.version) for v in versions],
                )
            )
    affected.sort(key=lambda a: a.start_time)
    return ForgetReport(pseudonym=pseudonym, runs_checked=checked, runs_without_index=without, affected=affected)


def write_erasure_record(log_path: Path, report: ForgetReport, note: str) -> ErasureRecord:
    """Append the erasure record (pseudonym, runs, versions, fingerprints, time, note) to the forget log."""
    record = ErasureRecord(
        pseudonym=report.pseudonym,
        affected_runs=report.run_ids,
        model_versions=report.model_versions,
        dataset_fingerprints=report.fingerprints,
        note=note,
    )
    append_erasure_record(log_path, record)
    return record


def _affected_versions(report: ForgetReport) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in report.affected:
        if a.model_name and a.versions:
            out.setdefault(a.model_name, set()).update(a.versions)
    return out


def _passed_gates(mv: Any) -> bool:
    return mv.tags.get(registry.DECISION_TAG) == "promoted" or mv.tags.get("veilflow.gates_passed") == "true"


def rollback_to_unaffected(client: tracking.TrackingClient, model_name: str, affected: set[str], reason: str) -> str | None:
    """Move champion to the newest version that is not affected and passed its gates (under the promotion lock).

    Returns:
        The new champion version, or None when champion was not on an affected version.

    Raises:
        PromotionRejected: champion is affected and no unaffected version passed its gates.
    """
    uri = tracking.tracking_uri_of(client)
    with registry.promotion_lock(model_name, uri):
        current = tracking.get_alias_version(client, model_name, registry.CHAMPION)
        if current is None or current not in affected:
            return None
        candidates = [
            mv
            for mv in tracking.list_versions(client, model_name)
            if str(mv.version) not in affected and mv.tags.get(AFFECTED_TAG) != "true" and _passed_gates(mv)
        ]
        if not candidates:
            raise PromotionRejected(
                f"{model_name}: champion version {current} holds a forgotten subject and no unaffected version passed its gates"
            )
        target = str(candidates[-1].version)
        tracking.set_alias(client, model_name, registry.CHAMPION, target)
        tracking.set_version_tags(client, model_name, target, {registry.PREVIOUS_TAG: current, "veilflow.promoted_by": "forget"})
        tracking.set_version_tags(
            client, model_name, current, {"veilflow.rolled_back": "true", "veilflow.rollback_reason": reason}
        )
    return target


def _retrain_config(client: tracking.TrackingClient, run_id: str) -> Any:
    from veilflow.core.config import parse_config

    with tracking.temp_dir() as tmp:
        raw = json.loads(tracking.download_artifact(client, run_id, "config/pipeline.json", tmp).read_text())
    raw.setdefault("registry", {})["register"] = True
    return parse_config(raw, source=f"run {run_id}")


def _replace_champion(client: tracking.TrackingClient, model_name: str, affected: set[str], result: Any) -> str:
    """After the clean retrain: champion moves off an affected version only to a replacement that passed the gates.

    A replacement rejected *only* by the regression gate is accepted: that gate compares it with the
    affected champion being retired, which is no longer a valid reference.
    """
    current = tracking.get_alias_version(client, model_name, registry.CHAMPION)
    if current is None or current not in affected:
        return f"champion of {model_name} is version {current} (not affected)"
    version = getattr(result, "version", None)
    if version is None:
        return f"champion of {model_name} stays on affected version {current}: the retraining registered no version"
    failed = [g for g in getattr(result, "failed_gates", []) if g]
    if failed and not all(g.startswith("regression.") for g in failed):
        return f"champion of {model_name} stays on affected version {current}: replacement {version} failed gates {', '.join(failed)} (use --rollback-now)"
    uri = tracking.tracking_uri_of(client)
    with registry.promotion_lock(model_name, uri):
        tracking.set_alias(client, model_name, registry.CHAMPION, version)
        tracking.set_version_tags(client, model_name, version, {registry.PREVIOUS_TAG: current, "veilflow.promoted_by": "forget"})
    return f"champion of {model_name}: affected version {current} -> clean version {version}"


def apply_forget(
    client: tracking.TrackingClient,
    report: ForgetReport,
    suppression_path: Path,
    note: str,
    rollback_now: bool = False,
    retrain: Callable[[Any], Any] | None = None,
) -> list[str]:
    """`--apply`: tag affected versions, suppress the subject, optionally roll back now, retrain, replace champion.

    Args:
        retrain: runs one training from a config and returns its TrainingResult (None: no retraining).

    Returns:
        One line per action, for the operator.
    """
    lines: list[str] = []
    when = datetime.now(UTC).isoformat(timespec="seconds")
    by_model = _affected_versions(report)
    for name, versions in by_model.items():
        for v in sorted(versions, key=int):
            tracking.set_version_tags(client, name, v, {AFFECTED_TAG: "true", "veilflow.erasure.recorded_at": when})
        lines.append(f"tagged {name} version(s) {', '.join(sorted(versions, key=int))} with {AFFECTED_TAG}=true")
    suppression = SuppressionList.load(suppression_path)
    added = suppression.add(report.pseudonym, note=note)
    suppression.save()
    lines.append(
        f"suppression list {'now holds' if added else 'already held'} the subject ({len(suppression)} entries): {suppression_path}"
    )
    if rollback_now:
        for name, versions in by_model.items():
            target = rollback_to_unaffected(client, name, versions, "forget --rollback-now")
            lines.append(
                f"champion of {name} rolled back to unaffected version {target}"
                if target
                else f"champion of {name} was not affected"
            )
    if retrain is None:
        return lines
    for name, versions in by_model.items():
        newest = [a for a in report.affected if a.model_name == name][-1]
        result = retrain(_retrain_config(client, newest.run_id))
        lines.append(
            f"retrained {name} from run {newest.run_id}: run {result.run_id}, version {result.version}, {result.decision}"
        )
        lines.append(_replace_champion(client, name, versions, result))
    if not by_model:
        lines.append("no registered version held the subject: no retraining needed")
    return lines
