"""Domain errors. The core raises these; only ``cli.py`` turns them into exit codes."""


class GansearchError(Exception):
    """Base class for every error gansearch raises on purpose."""


class StudyConfigError(GansearchError):
    """A study file is malformed, has an unknown key, a wrong type or an impossible search space.

    ``str(err)`` is one line: ``file: key.path: what is wrong (what is allowed)``.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.message = message
        parts = [p for p in (file, key) if p]
        super().__init__(": ".join(one_line(str(p)) for p in [*parts, message]))


def one_line(text: str) -> str:
    """``text`` with control characters (a newline in a YAML key, say) written as escapes: one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class StudyConfigErrors(StudyConfigError):
    """Several problems of one study file, reported at once, in file order: ``problems`` holds each
    (a ``StudyConfigError`` or ``PluginError``), and ``str(err)`` has one line per problem."""

    def __init__(self, problems: list):
        first = problems[0]
        super().__init__(getattr(first, "message", str(first)), file=getattr(first, "file", None),
                         key=getattr(first, "key", None))
        self.problems = list(problems)
        self.args = ("\n".join(str(p) for p in self.problems),)


class PluginError(GansearchError):
    """A plugin failed to import, registered something invalid, or clashes with another plugin."""


class BlockShapeError(PluginError):
    """A block's module does not scale H×W the way the block declares."""


class DatasetError(GansearchError):
    """A dataset could not be loaded (missing folder, unreadable image, ...).

    ``option`` names the dataset option at fault, so the message can point at ``data.<option>``.
    """

    def __init__(self, message: str, option: str | None = None):
        self.option = option
        super().__init__(message)


class TrialDiverged(GansearchError):
    """Training produced a non-finite loss or score; the trial fails with this reason."""


class ArtifactError(GansearchError):
    """A trial's files (samples, weights, record) could not be written; the trial fails with the cause."""


class StudyNotFound(GansearchError):
    """The study named by a study file has no storage yet (run it first)."""


class TrialTimedOut(GansearchError):
    """A trial ran past its time limit (``trial_timeout``, by default the study's ``timeout``)."""


class OutputFolderLost(StudyNotFound):
    """The study's output folder (its journal, its trials' files) vanished while a run wrote to it."""


class GansearchWarning(UserWarning):
    """Something a user should know that does not stop the work (skipped images, a broken installed
    plugin, ...). The command line prints each as one ``Warning: ...`` line; library users get an ordinary
    Python warning they can filter."""
