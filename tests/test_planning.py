from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_webhook import (
    AllowedMentions,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
    FilePart,
    Message,
    ValidationError,
)
from trio_webhook._attachments import ATTACHMENT_SCHEME, file_names
from trio_webhook._content_split import split_content
from trio_webhook._limit_values import DEFAULT_MAX_UPLOAD_BYTES
from trio_webhook._limits import validate_request
from trio_webhook._models import PlannedRequest, request_fields, whole_request
from trio_webhook._planning import chunk_embeds, embed_length, plan_requests
from trio_webhook.testing.strategies import embeds, messages


def titled(n: int) -> list[Embed]:
    return [Embed(title=f"embed {i}") for i in range(n)]


def sized(chars: int) -> Embed:
    return Embed(description="d" * chars)


# --- embed_length -------------------------------------------------------------------


def test_embed_length_counts_every_counted_part_trimmed() -> None:
    embed = Embed(
        title="  ab  ",
        description="\ncde\n",
        url="https://example.com/not-counted",
        fields=[EmbedField(" f ", " gh "), EmbedField("i", "j")],
        footer=EmbedFooter(" kl ", icon_url="https://example.com/not-counted.png"),
        author=EmbedAuthor(" m ", url="https://example.com/x"),
    )
    assert embed_length(embed) == 2 + 3 + 1 + 2 + 1 + 1 + 2 + 1


def _counted_parts(embed: Embed) -> int:
    parts = [embed.title, embed.description]
    parts += [text for f in embed.fields for text in (f.name, f.value)]
    parts.append(None if embed.footer is None else embed.footer.text)
    parts.append(None if embed.author is None else embed.author.name)
    return sum(len(p.strip()) for p in parts if p is not None)


@given(
    embeds()
    | st.builds(
        Embed,
        title=st.none() | st.text(max_size=20),
        description=st.none() | st.text(max_size=20),
    )
)
def test_embed_length_is_the_sum_of_every_counted_part(embed: Embed) -> None:
    """The shortcut for a title and a description counts as the general sum."""
    assert embed_length(embed) == _counted_parts(embed)


def test_embed_length_of_empty_embed_is_zero() -> None:
    assert embed_length(Embed(color=0xFF0000)) == 0


# --- chunk_embeds: counts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (9, [9]), (10, [10]), (11, [10, 1]), (20, [10, 10])],
)
def test_chunks_by_count(count: int, sizes: list[int]) -> None:
    chunks = chunk_embeds(titled(count))
    assert [len(c) for c in chunks] == sizes
    assert [e for c in chunks for e in c] == titled(count)


def test_empty_input_gives_no_chunks() -> None:
    assert chunk_embeds([]) == []


def test_exactly_6000_characters_fit_one_chunk() -> None:
    embeds_ = [sized(4000), sized(2000)]
    assert chunk_embeds(embeds_) == [tuple(embeds_)]


def test_6001_characters_split() -> None:
    embeds_ = [sized(4000), sized(2001)]
    assert chunk_embeds(embeds_) == [(embeds_[0],), (embeds_[1],)]


def test_whitespace_is_not_counted_towards_6000() -> None:
    padded = Embed(description="   " + "d" * 2000 + "\n\n")
    assert embed_length(padded) == 2000
    embeds_ = [sized(4000), padded]
    assert chunk_embeds(embeds_) == [tuple(embeds_)]


def test_one_embed_of_exactly_6000_characters_is_its_own_chunk() -> None:
    big = Embed(
        title="t" * 256,
        description="d" * 4096,
        fields=[EmbedField("n", "v" * 1024), EmbedField("n" * 256, "v" * 367)],
    )
    assert embed_length(big) == 6000
    assert chunk_embeds([Embed(title="x"), big, Embed(title="y")]) == [
        (Embed(title="x"),),
        (big,),
        (Embed(title="y"),),
    ]


def test_an_embed_alone_over_the_limit_raises_with_its_index() -> None:
    with pytest.raises(ValidationError) as info:
        chunk_embeds([Embed(title="ok"), sized(3000)], max_chars=2999)
    (violation,) = info.value.violations
    assert (violation.path, violation.limit, violation.actual) == ("embeds[1]", 2999, 3000)


def test_custom_limits_are_honoured() -> None:
    chunks = chunk_embeds(titled(7), max_per=3)
    assert [len(c) for c in chunks] == [3, 3, 1]


@given(
    st.lists(embeds(), max_size=40),
    st.integers(1, 12),
    st.integers(6000, 9000),
)
def test_chunks_concatenate_to_input_and_respect_both_limits(
    embeds_: list[Embed], max_per: int, max_chars: int
) -> None:
    chunks = chunk_embeds(embeds_, max_per=max_per, max_chars=max_chars)
    assert [e for c in chunks for e in c] == embeds_
    for chunk in chunks:
        assert 1 <= len(chunk) <= max_per
        assert sum(embed_length(e) for e in chunk) <= max_chars
    # Greedy: the next embed would not have fitted in the previous chunk.
    for before, after in itertools.pairwise(chunks):
        total = sum(embed_length(e) for e in before) + embed_length(after[0])
        assert len(before) == max_per or total > max_chars


# --- plan_requests: unit ------------------------------------------------------------


def png(name: str, size: int = 3) -> FilePart:
    return FilePart(name, data=b"\x89" * size)


def test_content_only_is_one_request() -> None:
    (only,) = plan_requests(Message(content="hello"))
    assert only == PlannedRequest(index=0, content="hello")


def test_content_goes_with_first_request_only() -> None:
    plan = plan_requests(Message(content="hi", tts=True, embeds=titled(25)))
    assert [p.content for p in plan] == ["hi", None, None]
    assert [p.tts for p in plan] == [True, None, None]
    assert [len(p.embeds) for p in plan] == [10, 10, 5]
    assert [p.index for p in plan] == [0, 1, 2]


def test_shared_fields_repeat_on_every_request_and_forum_fields_only_first() -> None:
    mentions = AllowedMentions.none()
    message = Message(
        embeds=titled(11),
        username="ci bot",
        avatar_url="https://example.com/a.png",
        allowed_mentions=mentions,
        flags=4096,
        thread_name="nightly",
        applied_tags=["1", "2"],
    )
    first, second = plan_requests(message)
    for planned in (first, second):
        assert planned.username == "ci bot"
        assert planned.avatar_url == "https://example.com/a.png"
        assert planned.allowed_mentions == mentions
        assert planned.flags == 4096
    assert (first.thread_name, first.applied_tags) == ("nightly", ("1", "2"))
    assert (second.thread_name, second.applied_tags) == (None, None)


def test_thread_id_is_on_every_request() -> None:
    plan = plan_requests(Message(embeds=titled(15), thread_id=99))
    assert [p.thread_id for p in plan] == ["99", "99"]


def test_unreferenced_files_go_with_the_first_request() -> None:
    files = [png("a.png"), png("b.png")]
    plan = plan_requests(Message(embeds=titled(12), attachments=files))
    assert plan[0].files == tuple(files)
    assert plan[1].files == ()


def test_referenced_file_goes_with_the_referring_embed() -> None:
    badge = png("badge.png")
    embeds_ = [*titled(14), Embed(title="x", thumbnail=EmbedMedia("attachment://badge.png"))]
    plan = plan_requests(Message(content="c", embeds=embeds_, attachments=[png("log.png"), badge]))
    assert [f.filename for f in plan[0].files] == ["log.png"]
    assert plan[1].files == (badge,)


@pytest.mark.parametrize(
    ("file", "reference"),
    [
        (FilePart("my badge.png", data=b"x"), "my_badge.png"),
        (FilePart("my badge.png", data=b"x"), "my badge.png"),
        (FilePart("b.png", data=b"x", spoiler=True), "SPOILER_b.png"),
        (FilePart("b.png", data=b"x", spoiler=True), "b.png"),
    ],
)
def test_references_match_given_and_uploaded_names(file: FilePart, reference: str) -> None:
    embeds_ = [*titled(10), Embed(footer=EmbedFooter("f", icon_url=f"attachment://{reference}"))]
    plan = plan_requests(Message(embeds=embeds_, attachments=[file]))
    assert plan[1].files == (file,)
    assert plan[0].files == ()


def test_more_than_ten_files_spill_into_file_only_requests() -> None:
    files = [png(f"f{i}.png") for i in range(23)]
    plan = plan_requests(Message(content="c", attachments=files))
    assert [len(p.files) for p in plan] == [10, 10, 3]
    assert [f for p in plan for f in p.files] == files
    assert [p.content for p in plan] == ["c", None, None]


def test_upload_budget_spills_files() -> None:
    files = [png("a.png", 60), png("b.png", 60), png("c.png", 30)]
    plan = plan_requests(Message(content="c", attachments=files), max_upload_bytes=100)
    assert [[f.filename for f in p.files] for p in plan] == [["a.png"], ["b.png", "c.png"]]


def test_referenced_files_take_priority_over_unreferenced_in_the_first_request() -> None:
    referenced = [png(f"r{i}.png") for i in range(10)]
    embeds_ = [Embed(image=EmbedMedia(f"attachment://r{i}.png")) for i in range(10)]
    loose = png("loose.png")
    plan = plan_requests(Message(embeds=embeds_, attachments=[loose, *referenced]))
    assert plan[0].files == tuple(referenced)
    assert plan[1].files == (loose,)
    assert plan[1].embeds == ()


def test_embeds_sharing_a_file_stay_together() -> None:
    shared = png("logo.png")
    embeds_ = [
        *titled(8),
        Embed(title="a", thumbnail=EmbedMedia("attachment://logo.png")),
        Embed(title="b"),
        Embed(title="c", thumbnail=EmbedMedia("attachment://logo.png")),
    ]
    plan = plan_requests(Message(embeds=embeds_, attachments=[shared]))
    assert [len(p.embeds) for p in plan] == [8, 3]
    assert plan[1].files == (shared,)


def test_embeds_sharing_a_file_too_far_apart_raise() -> None:
    ref = Embed(image=EmbedMedia("attachment://logo.png"))
    embeds_ = [ref, *titled(12), ref]
    with pytest.raises(ValidationError, match="same attachment:// files") as info:
        plan_requests(Message(embeds=embeds_, attachments=[png("logo.png")]))
    assert info.value.violations[0].path == "embeds[0]"


def test_files_of_one_embed_over_the_budget_raise() -> None:
    embed = Embed(
        image=EmbedMedia("attachment://a.png"), thumbnail=EmbedMedia("attachment://b.png")
    )
    with pytest.raises(ValidationError, match="do not fit in one request") as info:
        plan_requests(
            Message(embeds=[embed], attachments=[png("a.png", 60), png("b.png", 60)]),
            max_upload_bytes=100,
        )
    assert info.value.violations[0].path == "embeds[0]"


def test_invalid_message_raises_before_planning() -> None:
    with pytest.raises(ValidationError) as info:
        plan_requests(
            Message(content="x" * 2001, embeds=[Embed(title="t" * 257)]), split_content=False
        )
    assert {v.path for v in info.value.violations} == {"content", "embeds[0].title"}


def test_a_file_over_the_budget_is_a_violation() -> None:
    with pytest.raises(ValidationError) as info:
        plan_requests(Message(attachments=[png("big.png", 101)]), max_upload_bytes=100)
    (violation,) = info.value.violations
    assert (violation.path, violation.limit, violation.actual) == ("attachments[0]", 100, 101)


@given(messages())
def test_the_whole_request_is_the_request_the_fields_make(message: Message) -> None:
    # whole_request passes the fields by position: a field added to PlannedRequest, or
    # two swapped, must not shift them.
    expected = PlannedRequest(index=0, embeds=message.embeds, **request_fields(message))
    assert whole_request(message) == expected


def test_planned_requests_are_frozen_and_evolvable() -> None:
    (first,) = plan_requests(Message(content="x", thread_name="post"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.thread_id = "1"  # type: ignore[misc]
    assert attrs.evolve(first, thread_id="5").thread_id == "5"


# --- plan_requests: long content ----------------------------------------------------

PARAGRAPH = "word " * 99 + "word.\n\n"  # 502 characters


def test_content_over_the_limit_is_split_into_requests_of_its_own_in_order() -> None:
    content = PARAGRAPH * 9  # 4518 characters: three paragraphs a request
    plan = plan_requests(Message(content=content))
    assert [len(p.content or "") for p in plan] == [1506, 1506, 1506]
    assert "".join(p.content or "" for p in plan) == content
    assert [p.index for p in plan] == [0, 1, 2]


def test_content_of_exactly_the_limit_is_one_request_as_before() -> None:
    message = Message(content="x" * 2000, embeds=[Embed(title="t")])
    (only,) = plan_requests(message)
    assert only == PlannedRequest(index=0, content="x" * 2000, embeds=(Embed(title="t"),))


def test_embeds_and_files_go_with_the_last_piece_under_the_text() -> None:
    message = Message(
        content=PARAGRAPH * 5, embeds=titled(2), attachments=[png("a.png"), png("b.png")]
    )
    plan = plan_requests(message)
    assert [(len(p.content or ""), len(p.embeds), len(p.files)) for p in plan] == [
        (1506, 0, 0),
        (1004, 2, 2),
    ]


def test_a_file_goes_with_the_embed_that_shows_it_after_the_pieces() -> None:
    message = Message(
        content=PARAGRAPH * 5,
        embeds=[*titled(10), Embed(title="pic", image=EmbedMedia("attachment://b.png"))],
        attachments=[png("a.png"), png("b.png")],
    )
    plan = plan_requests(message)
    assert [[f.filename for f in p.files] for p in plan] == [[], ["a.png"], ["b.png"]]
    for planned in plan:
        assert validate_request(planned) == []


def test_every_piece_repeats_the_identity_and_only_the_first_has_tts_and_the_post() -> None:
    mentions = AllowedMentions(users=[1])
    message = Message(
        content=PARAGRAPH * 5,
        username="ci",
        avatar_url="https://example.com/a.png",
        tts=True,
        embeds=[Embed(title="t")],
        allowed_mentions=mentions,
        flags=4,
        thread_name="release notes",
        applied_tags=[7],
    )
    plan = plan_requests(message)
    assert len(plan) == 2
    for planned in plan:
        assert (planned.username, planned.avatar_url) == ("ci", "https://example.com/a.png")
        assert (planned.allowed_mentions, planned.flags) == (mentions, 4)
    assert [(p.tts, p.thread_name, p.applied_tags) for p in plan] == [
        (True, "release notes", ("7",)),
        (None, None, None),
    ]
    into_thread = plan_requests(
        attrs.evolve(message, thread_name=None, applied_tags=None, thread_id=9)
    )
    assert [p.thread_id for p in into_thread] == ["9", "9"]


def test_a_code_block_cut_in_two_is_reopened_in_the_next_request() -> None:
    code = "".join(f"print({n})\n" for n in range(300))  # 2890 characters
    plan = plan_requests(Message(content=f"```py\n{code}```"))
    assert len(plan) == 2
    first, second = (p.content or "" for p in plan)
    assert first.endswith("\n```")
    assert second.startswith("```py\n")
    for planned in plan:
        assert validate_request(planned) == []


def test_without_splitting_long_content_is_refused_as_before() -> None:
    with pytest.raises(ValidationError) as info:
        plan_requests(Message(content="x" * 2001), split_content=False)
    (violation,) = info.value.violations
    assert (violation.path, violation.limit, violation.actual) == ("content", 2000, 2001)


def test_long_whitespace_around_the_text_is_left_out() -> None:
    # Discord trims it: a request of only whitespace would be refused (50006).
    plan = plan_requests(Message(content=" " * 2500 + "hello" + "\n" * 2500))
    assert [p.content for p in plan] == ["hello" + "\n" * 1995]
    (only,) = plan_requests(Message(content=" " * 2500, embeds=[Embed(title="t")]))
    assert (only.content, only.embeds) == (None, (Embed(title="t"),))


# --- plan_requests: properties ------------------------------------------------------


def references_satisfied(planned: PlannedRequest) -> bool:
    names: set[str] = set()
    for part in planned.files:
        names |= file_names(part)
    return all(
        url[len(ATTACHMENT_SCHEME) :] in names
        for embed in planned.embeds
        for url in embed.media_urls()
        if url.startswith(ATTACHMENT_SCHEME)
    )


@given(messages(), st.sampled_from([DEFAULT_MAX_UPLOAD_BYTES, 256, 1000]))
def test_every_plan_delivers_the_whole_message_within_limits(message: Message, budget: int) -> None:
    plan = plan_requests(message, max_upload_bytes=budget)
    assert [p.index for p in plan] == list(range(len(plan)))
    # Every file exactly once (identity: equal files may appear twice in a message).
    uploaded = [id(f) for p in plan for f in p.files]
    assert sorted(uploaded) == sorted(id(f) for f in message.attachments)
    # Embeds in order, nothing lost.
    assert [e for p in plan for e in p.embeds] == list(message.embeds)
    # Content, tts and forum fields only with the first request.
    assert plan[0].content == message.content
    assert all(p.content is None and p.thread_name is None for p in plan[1:])
    for planned in plan:
        assert validate_request(planned, max_upload_bytes=budget) == []
        assert references_satisfied(planned)
        assert planned.username == message.username
        assert planned.flags == message.flags


long_texts = st.builds(
    lambda unit, extra: unit * (2001 // len(unit) + 1 + extra),
    st.lists(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)
        | st.sampled_from([" ", "\n", "\n\n", "```py\n", "```", "<@123>", "https://x.co/a"]),
        min_size=1,
        max_size=8,
    ).map("".join),
    st.integers(0, 3),
)


@given(messages(max_embeds=15, max_files=12), long_texts)
def test_long_content_plans_its_pieces_first_and_the_rest_after_the_last(
    message: Message, content: str
) -> None:
    message = attrs.evolve(message, content=content)
    pieces = split_content(content)
    if not pieces and not message.embeds and not message.attachments:
        with pytest.raises(ValidationError):
            plan_requests(message)
        return
    plan = plan_requests(message)
    assert [p.index for p in plan] == list(range(len(plan)))
    assert [p.content for p in plan[: len(pieces)]] == pieces
    assert all(p.content is None for p in plan[len(pieces) :])
    assert all(not p.embeds and not p.files for p in plan[: max(len(pieces) - 1, 0)])
    assert [e for p in plan for e in p.embeds] == list(message.embeds)
    assert sorted(id(f) for p in plan for f in p.files) == sorted(map(id, message.attachments))
    assert plan[0].tts == message.tts
    assert plan[0].thread_name == message.thread_name
    assert all(p.tts is None and p.thread_name is None for p in plan[1:])
    for planned in plan:
        assert validate_request(planned) == []
        assert (planned.username, planned.thread_id) == (message.username, message.thread_id)
