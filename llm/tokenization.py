"""Token ids for prompts and answers, and the embedded model's word-level tokenizer.

One rule everywhere (training, evaluation, the table): a prompt is tokenized as
``encode(prefix) + encode(suffix)`` and an example appends ``encode(answer)`` (segments from
:mod:`llm.prompts`, each encoded alone). Training and serving therefore see the very same ids,
and the table may compute the shared prefix once, for any tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from llm import prompts
from llm.errors import TokenizationError

PAD, UNK = "<pad>", "<unk>"
# Marks of the template, always in the word-level vocabulary; "." doubles as the end-of-sequence
# token, so stock `generate` stops where an answer ends.
TEMPLATE_TOKENS = (";", "->", ".")


def build_word_tokenizer(texts: Iterable[str]):
    """A word-level ``PreTrainedTokenizerFast`` whose vocabulary is every word of ``texts``.

    Words are sorted so the ids do not depend on the order of the texts. Splitting is on
    whitespace only: taxonomy words are never cut, and an unknown word becomes ``<unk>``, which
    :class:`PromptEncoder` reports as an error instead of training on it.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in text.split()} - set(TEMPLATE_TOKENS) - {PAD, UNK})
    vocab = {tok: i for i, tok in enumerate([PAD, UNK, *TEMPLATE_TOKENS, *words])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=".",
        bos_token=".",
        clean_up_tokenization_spaces=False,
    )


def _normalized(text: str) -> str:
    return " ".join(text.split())


class PromptEncoder:
    """Encodes histories and answers over one level's descriptions with one tokenizer.

    Every description's answer is encoded up front and checked to decode back to itself, so a
    description the tokenizer cannot represent fails here, naming it, rather than producing a
    model that can never say it.
    """

    def __init__(self, tokenizer, descriptions: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.descriptions = tuple(descriptions)
        self.answers: list[list[int]] = [
            self._encode_checked(prompts.answer(d), d) for d in self.descriptions
        ]
        # lru caches per instance: the table asks for the same prefixes and suffixes many times.
        self.prefix_ids = lru_cache(maxsize=None)(self._prefix_ids)
        self.suffix_ids = lru_cache(maxsize=None)(self._suffix_ids)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode_checked(self, text: str, description: str) -> list[int]:
        ids = self.encode(text)
        unk = self.tokenizer.unk_token_id
        decoded = self.tokenizer.decode(ids, clean_up_tokenization_spaces=False)
        if (unk is not None and unk in ids) or _normalized(decoded) != _normalized(text):
            raise TokenizationError(
                f"the tokenizer cannot encode description {description!r} (it decodes back as "
                f"{decoded!r}); build the default model's vocabulary from this level's descriptions, "
                "or use a model whose tokenizer covers these words"
            )
        return ids

    def _prefix_ids(self, head: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self.encode(prompts.prefix([self.descriptions[c] for c in head]))) if head else ()

    def _suffix_ids(self, last: int, after_prefix: bool) -> tuple[int, ...]:
        return tuple(self.encode(prompts.suffix(self.descriptions[last], after_prefix)))

    def prompt_ids(self, history: Sequence[int]) -> list[int]:
        """Token ids of the prompt for a history of cluster ids, oldest first."""
        h = tuple(int(c) for c in history)
        return [*self.prefix_ids(h[:-1]), *self.suffix_ids(h[-1], len(h) > 1)]

    def example_ids(self, history: Sequence[int], target: int) -> tuple[list[int], int]:
        """Ids of prompt + answer, and the prompt's length (the loss covers only the answer)."""
        p = self.prompt_ids(history)
        return p + self.answers[int(target)], len(p)

    def shots_ids(self, shots: Sequence[tuple[Sequence[int], int]]) -> list[int]:
        """k solved examples, each followed by the example separator (a few-shot preamble)."""
        ids: list[int] = []
        for h, t in shots:
            ids += self.example_ids(h, t)[0] + self.encode(prompts.EXAMPLE_SEPARATOR)
        return ids

    def few_shot_ids(self, shots: Sequence[tuple[Sequence[int], int]], history: Sequence[int]) -> list[int]:
        """The few-shot preamble then the query's prompt (text of ``prompts.few_shot_prompt``)."""
        return self.shots_ids(shots) + self.prompt_ids(history)
