"""What affiliates, programs, applications and links refuse."""

from __future__ import annotations

from app.errors import Conflict, Forbidden, Invalid, NotFound


class AffiliateNotFound(NotFound):
    def __init__(self, affiliate_id: int):
        super().__init__(f"No affiliate {affiliate_id}.")


class ProgramNotFound(NotFound):
    """Not one of the merchant's programs."""

    def __init__(self, program_id: int):
        super().__init__(f"No program {program_id} of yours.")


class OpenProgramNotFound(NotFound):
    """No program open to applications under this id."""

    def __init__(self, program_id: int):
        super().__init__(f"No open program {program_id}.")


class LinkProgramNotFound(NotFound):
    def __init__(self, program_id: int):
        super().__init__(f"No program {program_id}.")


class AlreadyApplied(Conflict):
    def __init__(self, program_id: int, status: str):
        super().__init__(f"You already applied to program {program_id} (status {status}).")


class ApplicationNotFound(NotFound):
    def __init__(self, program_id: int, application_id: int):
        super().__init__(f"No application {application_id} to program {program_id}.")


class NotApproved(Forbidden):
    def __init__(self, program_id: int):
        super().__init__(f"You are not approved for program {program_id}; apply first.")


class ProgramPaused(Invalid):
    def __init__(self, program_id: int):
        super().__init__(f"Program {program_id} is paused.", errors={"program_id": ["The program is paused."]})


class LandingUrlRefused(Invalid):
    def __init__(self, reason: str):
        super().__init__("The landing URL is refused.", errors={"landing_url": [reason]})


class LinkNotFound(NotFound):
    def __init__(self, link_id: int):
        super().__init__(f"No link {link_id} of yours.")
