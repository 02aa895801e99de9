"""The MsgHead facts that routing, deduplication and replies need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapter.domain.codes import Rolle
from adapter.domain.model import Person
from adapter.messages.codes import MsgType


@dataclass(frozen=True, slots=True)
class Professional:
    """MsgHead HealthcareProfessional: a practitioner addressed or sending."""

    her_id: str
    given_name: str = ""
    family_name: str = ""
    role: Rolle | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """Sender or Receiver: an organisation with HER-ids on two levels.

    Level 1 is the organisation (``her_id``); level 2 is either a sub-organisation
    (``sub_her_id``, as Helsenorge's "Digitale innbyggertjenester") or a
    HealthcareProfessional (``professional``, as a clinic's fastlege).
    """

    name: str
    her_id: str
    org_number: str = ""
    sub_name: str = ""
    sub_her_id: str = ""
    professional: Professional | None = None

    @property
    def leaf_her_id(self) -> str:
        """The most specific HER-id: the level-2 party if there is one."""
        if self.professional is not None:
            return self.professional.her_id
        return self.sub_her_id or self.her_id

    @property
    def her_ids(self) -> tuple[str, ...]:
        """Every HER-id this party names, most specific first."""
        ids = [self.leaf_her_id]
        if self.sub_her_id and self.sub_her_id not in ids:
            ids.append(self.sub_her_id)
        if self.her_id not in ids:
            ids.append(self.her_id)
        return tuple(ids)


@dataclass(frozen=True, slots=True)
class Envelope:
    """MsgHead/MsgInfo of a message, received or to be sent."""

    msg_type: MsgType
    msg_id: str
    gen_date: datetime
    sender: Party
    receiver: Party
    ack_requested: bool = True  # Ack V="J"; synchronous calls say "N"
    ref_to_parent: str | None = None
    ref_to_conversation: str | None = None
    patient: Person | None = None
    mig_version: str = "v1.2 2006-05-24"
