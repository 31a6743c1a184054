"""What both group robots share: the message we send, the sender protocol, the size limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RobotMessage:
    """One alert as staff read it in the group: a title, a few lines, where to act."""

    title: str
    lines: tuple[str, ...]
    link: str  # the admin page where the trouble is dealt with, absolute URL

    def markdown(self, limit_bytes: int) -> str:
        """Title, lines and link as Markdown, cut line by line to fit the robot's limit.

        Both robots refuse an oversized message outright, so a storm's long list is cut
        here with a count of what was left out, and the link always survives.
        """
        head = f"### {self.title}"
        tail = f"[处理 →]({self.link})"
        kept: list[str] = []
        for index, line in enumerate(self.lines):
            more = len(self.lines) - index - 1
            candidate = [head, *kept, line, *([f"…… 另有 {more} 条"] if more else []), tail]
            if len("\n\n".join(candidate).encode()) > limit_bytes:
                left = len(self.lines) - index
                return "\n\n".join([head, *kept, f"…… 另有 {left} 条", tail])
            kept.append(line)
        return "\n\n".join([head, *kept, tail])


class RobotSender(Protocol):
    """Posts one message to one group; raises NotificationUnavailable / NotificationRejected."""

    provider: str

    def send(self, message: RobotMessage) -> None: ...
