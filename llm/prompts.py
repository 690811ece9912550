"""The one prompt template, used by training, evaluation, few-shot prompting and the table.

A user's last L interest clusters are written as their descriptions, oldest first, joined by
``" ; "``, and followed by ``" ->"``; the answer is one space, the novel cluster's
description, and the end marker ``" ."``::

    prompt(["jazz piano", "road cycling"])      == "jazz piano ; road cycling ->"
    answer("trail running")                     == " trail running ."
    prompt(...) + answer(...)                   == "jazz piano ; road cycling -> trail running ."

Why these marks: descriptions are lowercase words, so ``;``, ``->`` and ``.`` never occur inside
one and every tokenizer (our word-level one, byte-level BPE of real LLMs) keeps them apart. The
end marker makes the set of answers prefix-free ("jazz ." vs "jazz piano ."), which the trie of
constrained decoding needs, and tells free generation where an answer stops. Few-shot prompts
are k complete examples, one per line, then the query's prompt (the paper's baseline, §4).
"""

from __future__ import annotations

from collections.abc import Sequence

HISTORY_SEPARATOR = " ; "
ANSWER_MARK = " ->"
END_MARK = " ."
EXAMPLE_SEPARATOR = "\n"


def prompt(history: Sequence[str]) -> str:
    """The prompt for a history of descriptions, oldest first."""
    return HISTORY_SEPARATOR.join(history) + ANSWER_MARK


def prefix(head: Sequence[str]) -> str:
    """The start of the prompt shared by every history beginning with ``head`` (its first L-1
    descriptions); ``""`` when L = 1.

    ``prompt(h) == prefix(h[:-1]) + suffix(h[-1], len(h) > 1)``; the table computes the prefix's
    KV cache once. The cut sits before the space that opens the last description, because
    byte-level BPE tokenizers glue a leading space to the word that follows it.
    """
    return HISTORY_SEPARATOR.join(head) + HISTORY_SEPARATOR.rstrip() if head else ""


def suffix(last: str, after_prefix: bool) -> str:
    """The last description and the answer mark (see :func:`prefix`)."""
    return (" " if after_prefix else "") + last + ANSWER_MARK


def answer(target: str) -> str:
    """The text the model is trained to produce after :func:`prompt`."""
    return " " + target + END_MARK


def example(history: Sequence[str], target: str) -> str:
    """One complete training example."""
    return prompt(history) + answer(target)


def few_shot_prompt(shots: Sequence[tuple[Sequence[str], str]], history: Sequence[str]) -> str:
    """k solved examples, one per line, then the query's prompt."""
    lines = [example(h, t) for h, t in shots]
    return EXAMPLE_SEPARATOR.join([*lines, prompt(history)])


def parse_answer(generated: str) -> str:
    """The description in a generated continuation: the text before the end marker, trimmed.

    Free generation may run past the marker or never emit it; both cases are parsed the same way
    and the caller decides whether the result matches a description.
    """
    text = generated.split(EXAMPLE_SEPARATOR, 1)[0]
    text = text.split(END_MARK.strip(), 1)[0]
    return " ".join(text.split())
