"""The student self-check kit: ``autograde kit SPEC -o DIR`` (instructor) and ``autograde check`` (student).

Guarantees: a kit holds the public checks, the public fixtures they read and the reference's
recorded answers to those checks; never the reference solution, a hidden check, a hidden fixture
or an answer of a hidden check. A student's ``autograde check`` scores every public check as the
TA's grade with the kit's seed would, and says what it leaves to the TA.

    build.py         autograde kit: restrict, copy public files, record the reference's replies
    restrict.py      the rubric a student may see (positions kept, so inputs match)
    public_files.py  which files may ship: public fixture sets of a manifest, never the solution
    recording.py     request keys, recording and replaying the reference's replies
    check.py         autograde check: find the kit, grade, show what is left to the TA
"""


class KitError(Exception):
    """No usable kit: the message says where it was looked for."""
