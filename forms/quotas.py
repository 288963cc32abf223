"""Per-unit quotas: how many submissions a unit sends an hour, how much evidence a period.

Without them one reporter (or a stolen reporter account) could fill the disk with
submissions of 5 x 10 MB each and keep the sync loop busy pushing them for everyone. The
outbox knows every submission, whatever its state, so it is what the quotas count: a
returned submission's files stay in the repository too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from forms.outbox import Outbox
from forms.settings import MEGABYTE


@dataclass(frozen=True)
class Quotas:
    submissions_per_hour: int
    evidence_bytes_per_period: int

    def submission_refusal(self, outbox: Outbox, unit: str, now: datetime) -> str | None:
        """Why `unit` may not submit now (a Chinese message), or None."""
        sent = outbox.submitted_since(unit, now - timedelta(hours=1))
        if sent < self.submissions_per_hour:
            return None
        return (
            f"本单位在过去一小时内已提交 {sent} 份填报，达到每小时 {self.submissions_per_hour} "
            "份的上限。草稿已保存，请稍后再提交；如确有需要，请联系管理员。"
        )

    def evidence_refusal(
        self, outbox: Outbox, unit: str, period: str, held: int, adding: int, name: str
    ) -> str | None:
        """Why a file of `adding` bytes may not join a draft already holding `held` bytes
        of evidence for `unit` and `period` (a Chinese message naming the file), or None."""
        used = outbox.evidence_bytes(unit, period) + held
        if used + adding <= self.evidence_bytes_per_period:
            return None
        return (
            f"文件“{name}”未能上传：本单位本期已提交和待提交的证明材料共 {_mb(used)}，"
            f"每期上限为 {_mb(self.evidence_bytes_per_period)}。"
            "请压缩文件或删除不需要的材料；如确有需要，请联系管理员。"
        )

    def submit_evidence_refusal(
        self, outbox: Outbox, unit: str, period: str, held: int
    ) -> str | None:
        """Why a draft holding `held` bytes of evidence may not be submitted (other
        submissions of the unit for the period came first), or None."""
        total = outbox.evidence_bytes(unit, period) + held
        if total <= self.evidence_bytes_per_period:
            return None
        return (
            f"提交后本单位本期证明材料将达 {_mb(total)}，超过每期上限 "
            f"{_mb(self.evidence_bytes_per_period)}。草稿已保存，请返回修改页删除部分文件后再提交。"
        )


def _mb(size: int) -> str:
    return f"{size / MEGABYTE:.1f} MB"
