"""``rlslint check --verify``: apply the migrations to a real PostgreSQL and hold the model to its catalog.

Modules, in the order a run uses them: ``server`` (which PostgreSQL), ``wire`` (talking to
it), ``trace`` (the model after each statement, from the history stage), ``verifier``
(applying each file as the Supabase CLI does and comparing), ``catalog`` and ``facts``
(what is read and compared), ``decided`` (unknown tables as the catalog has them).
Only ``VerifyError`` lives here, so the engine can name it without importing the rest.
"""


class VerifyError(RuntimeError):
    """The server failed mid-run (a lost connection, a database it cannot create): one line, exit 2."""
