"""The OVD answer check: the reference's prompt, and verdicts on replies (valid and each
way wrong)."""

from __future__ import annotations

import json

import pytest

from bench import ovd


def test_prompt_is_the_references_with_the_question_filled_in() -> None:
    text = ovd.prompt("桌上有几个杯子？", "杯子")
    assert text.startswith("请分析图像并回答以下问题。")
    assert text.endswith("具体问题:根据规则或识别要求，桌上有几个杯子？。 图中是否出现杯子？")
    assert "{describe}" not in text and "{event}" not in text
    # The f-string braces of the reference's template are rendered: single braces reach the model.
    assert '{"answer": "yes or no",' in text and "{{" not in text
    assert ovd.is_ovd_prompt(text) and ovd.asked_event(text) == "杯子"
    assert not ovd.is_ovd_prompt("describe the image")


def test_request_is_non_streaming_image_first() -> None:
    body = ovd.request_body("m", b"\x89PNG", "q", 512, 0.0)
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["image_url", "text"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["stream"] is False and body["max_tokens"] == 512


REFERENCE_FORMAT = """<description>桌面上有一个红色的杯子，旁边是一本书。</description>

</think>
```json
{"answer": "yes",
"explanations": [
    {
    "bbox_2d": [120, 200, 260, 410], "label": "杯子"
    },
    {
    "bbox_2d": [300.5, 150, 620, 600], "label": "书"
    }]
}
```
<|FunctionCallEnd|>"""


def test_the_references_answer_format_parses() -> None:
    """The format the prompt spells out (its tags, the JSON laid out as in the prompt)."""
    verdict = ovd.parse_answer(REFERENCE_FORMAT, 640, 640)
    assert verdict.valid, verdict.problems
    assert verdict.description == "桌面上有一个红色的杯子，旁边是一本书。"
    assert verdict.answer == "yes"
    assert verdict.boxes == [
        {"bbox_2d": [120, 200, 260, 410], "label": "杯子"},
        {"bbox_2d": [300.5, 150, 620, 600], "label": "书"},
    ]
    assert (
        verdict.summary()
        == "format valid: answer yes, 杯子 [120, 200, 260, 410], 书 [300.5, 150, 620, 600]"
    )


def test_simulator_answer_is_valid_and_boxes_the_generated_object() -> None:
    verdict = ovd.parse_answer(ovd.sample_answer(640, 480, "cup"), 640, 480)
    assert verdict.valid and verdict.answer == "yes" and not verdict.warnings
    assert verdict.boxes == [{"bbox_2d": [192, 168, 384, 384], "label": "cup"}]


def test_no_object_explanations_none_is_valid() -> None:
    text = (
        '<description>一张空桌子。</description>\n```json\n{"answer": "no", "explanations": "None"}'
        "\n```"
    )
    verdict = ovd.parse_answer(text, 640, 640)
    assert verdict.valid and verdict.answer == "no" and verdict.boxes == []
    assert verdict.summary() == "format valid: answer no, no boxes"


def test_unfenced_json_is_accepted() -> None:
    text = (
        '<description>a cup</description> {"answer": "YES", "explanations": '
        '[{"bbox_2d": [1, 2, 3, 4], "label": "cup"}]} trailing'
    )
    verdict = ovd.parse_answer(text, 640, 640)
    assert verdict.valid and verdict.answer == "yes"


def _answer(obj: object, description: str = "<description>d</description>") -> str:
    return f"{description}\n```json\n{json.dumps(obj)}\n```"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            '```json\n{"answer": "yes", "explanations": "None"}\n```',
            "no <description>…</description>",
            id="missing-description",
        ),
        pytest.param(
            _answer({"answer": "no", "explanations": "None"}, "<description> </description>"),
            "<description> is empty",
            id="empty-description",
        ),
        pytest.param(
            "<description>a cup</description> The answer is yes.",
            "no JSON block (neither ```json … ``` nor {…})",
            id="missing-json",
        ),
        pytest.param(
            '<description>a cup</description>\n```json\n{"answer": "yes", "explanations": [\n```',
            "malformed JSON: Expecting value at line 1 column 36",
            id="malformed-json",
        ),
        pytest.param(
            "<description>a cup</description>\n```json\n{'answer': 'yes'}\n```",
            "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2",
            id="single-quotes",
        ),
        pytest.param(
            _answer(["yes"]),
            "the JSON must be an object, got list",
            id="json-not-object",
        ),
        pytest.param(
            _answer({"answer": "maybe", "explanations": "None"}),
            'answer must be "yes" or "no", got \'maybe\'',
            id="answer-not-yes-no",
        ),
        pytest.param(
            _answer({"answer": "yes"}),
            'no explanations (a list of boxes, or "None")',
            id="no-explanations",
        ),
        pytest.param(
            _answer({"answer": "yes", "explanations": "a cup on the left"}),
            "explanations must be a list of boxes or \"None\", got 'a cup on the left'",
            id="explanations-text",
        ),
        pytest.param(
            _answer(
                {"answer": "yes", "explanations": [{"bbox_2d": [10, 10, 700, 50], "label": "cup"}]}
            ),
            "explanations[0].bbox_2d [10, 10, 700, 50] is not a box inside the 644x644 image "
            "(0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height)",
            id="box-outside-image",
        ),
        pytest.param(
            _answer(
                {"answer": "yes", "explanations": [{"bbox_2d": [-1, 10, 20, 50], "label": "cup"}]}
            ),
            "explanations[0].bbox_2d [-1, 10, 20, 50] is not a box inside the 644x644 image "
            "(0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height)",
            id="box-negative",
        ),
        pytest.param(
            _answer(
                {"answer": "yes", "explanations": [{"bbox_2d": [50, 10, 20, 50], "label": "cup"}]}
            ),
            "explanations[0].bbox_2d [50, 10, 20, 50] is not a box inside the 644x644 image "
            "(0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height)",
            id="box-inverted",
        ),
        pytest.param(
            _answer({"answer": "yes", "explanations": [{"bbox_2d": [1, 2, 3], "label": "cup"}]}),
            "explanations[0].bbox_2d must be four numbers, got [1, 2, 3]",
            id="box-three-numbers",
        ),
        pytest.param(
            _answer({"answer": "yes", "explanations": [{"bbox_2d": ["1", 2, 3, 4], "label": "c"}]}),
            "explanations[0].bbox_2d must be four numbers, got ['1', 2, 3, 4]",
            id="box-strings",
        ),
        pytest.param(
            _answer({"answer": "yes", "explanations": [{"bbox_2d": [1, 2, 3, 4]}]}),
            "explanations[0].label must be a non-empty string, got None",
            id="label-missing",
        ),
        pytest.param(
            _answer({"answer": "yes", "explanations": [[1, 2, 3, 4]]}),
            "explanations[0] must be an object with bbox_2d and label",
            id="item-not-object",
        ),
    ],
)
def test_invalid_answers_say_what_is_wrong(text: str, problem: str) -> None:
    verdict = ovd.parse_answer(text, 640, 640)
    assert not verdict.valid
    assert problem in verdict.problems, verdict.problems
    assert verdict.summary().startswith("format invalid: ")


def test_boxes_may_reach_the_resized_image_not_beyond() -> None:
    """Qwen2.5-VL answers in the resized image's pixels: 640 → 644."""
    edge = _answer({"answer": "yes", "explanations": [{"bbox_2d": [0, 0, 644, 644], "label": "c"}]})
    beyond = _answer(
        {"answer": "yes", "explanations": [{"bbox_2d": [0, 0, 645, 10], "label": "c"}]}
    )
    assert ovd.parse_answer(edge, 640, 640).valid
    assert not ovd.parse_answer(beyond, 640, 640).valid


def test_inconsistent_answers_are_valid_with_a_warning() -> None:
    yes_no_box = ovd.parse_answer(_answer({"answer": "yes", "explanations": "None"}), 640, 640)
    assert yes_no_box.valid and yes_no_box.warnings == ['answer "yes" without a box']
    box = [{"bbox_2d": [1, 2, 3, 4], "label": "c"}]
    no_with_box = ovd.parse_answer(_answer({"answer": "no", "explanations": box}), 640, 640)
    assert no_with_box.valid and no_with_box.warnings == ['answer "no" but boxes given']


def test_gibberish_is_invalid_and_never_raises() -> None:
    verdict = ovd.parse_answer("ᚠ\x00 }{ ]] ```json``` <description>", 640, 640)
    assert not verdict.valid
    assert verdict.problems[0] == "no <description>…</description>"


def _completion(content: str, finish: str = "stop") -> bytes:
    return json.dumps(
        {
            "choices": [{"message": {"content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 1270, "completion_tokens": 112},
        }
    ).encode()


def test_interpret_a_good_http_answer() -> None:
    result = ovd.interpret(200, _completion(REFERENCE_FORMAT), 0.5, 640, 640)
    assert result.valid and result.usage["completion_tokens"] == 112
    data = result.to_dict()
    assert data["valid"] is True and data["summary"].startswith("format valid")


def test_interpret_failures() -> None:
    refused = ovd.interpret(400, b'{"error": {"message": "bad image"}}', 0.1, 640, 640)
    assert not refused.valid and refused.summary().startswith("check failed: HTTP 400: ")
    odd = ovd.interpret(200, b"<html>", 0.1, 640, 640)
    assert not odd.valid and "not an OpenAI chat completion" in odd.summary()
    cut = ovd.interpret(200, _completion("<description>a", "length"), 0.1, 640, 640)
    assert not cut.valid and "the answer was cut at max_tokens" in cut.verdict.warnings
