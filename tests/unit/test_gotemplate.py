"""What a Sveltos cloudEventAction can render, and what event-manager would crash on, read from the template alone.

event-manager accepts exactly "Create" or "Delete"; every other render is a nil-pointer panic that replays the event.
"""

from __future__ import annotations

import string

import pytest

from dsxbus.gotemplate import FIX, TemplateError, UnsupportedTemplateError, action_problem, possible_renders

SEED = '{{if eq .CloudEvent.type "auth.example.com.logout"}}Delete{{else}}Create{{end}}'
SINGLE_QUOTED = "{{if eq .CloudEvent.type 'auth.example.com.logout'}}Delete{{else}}Create{{end}}"
NO_ELSE = '{{if eq .CloudEvent.type "auth.example.com.login"}}Create{{end}}'
SPACED = "{{ if true }} Create {{ end }}"
TRIMMED = '{{- if eq .CloudEvent.type "x" -}} Delete {{- else -}} Create {{- end -}}'


# Text and literals


def test_plain_create_renders_create() -> None:
    assert possible_renders("Create") == frozenset({"Create"})


def test_plain_delete_renders_delete() -> None:
    assert possible_renders("Delete") == frozenset({"Delete"})


@pytest.mark.parametrize("template", ["Create", "Delete"])
def test_plain_create_or_delete_has_no_problem(template: str) -> None:
    assert action_problem(template) is None


def test_a_printed_double_quoted_literal_is_known() -> None:
    assert possible_renders('{{ "Create" }}') == frozenset({"Create"})


def test_a_printed_raw_literal_is_known() -> None:
    assert possible_renders("{{ `Delete` }}") == frozenset({"Delete"})


def test_go_escapes_in_a_printed_literal_are_decoded() -> None:
    assert possible_renders(r'{{ "Cre\x61t\u0065" }}') == frozenset({"Create"})


def test_a_variable_declaration_prints_nothing() -> None:
    template = '{{$type := .CloudEvent.type}}{{if eq $type "x"}}Delete{{else}}Create{{end}}'
    assert possible_renders(template) == frozenset({"Delete", "Create"})


def test_comments_print_nothing() -> None:
    assert possible_renders("{{/* logout deletes the session */}}" + SEED) == frozenset({"Delete", "Create"})


def test_a_trimmed_comment_removes_the_whitespace_around_it() -> None:
    assert possible_renders("  {{- /* why */ -}}  \n Create") == frozenset({"Create"})


# Branches


def test_the_seed_login_logout_template_renders_delete_or_create() -> None:
    assert possible_renders(SEED) == frozenset({"Delete", "Create"})


def test_the_seed_login_logout_template_has_no_problem() -> None:
    assert action_problem(SEED) is None


def test_an_if_without_else_can_render_nothing() -> None:
    assert possible_renders(NO_ELSE) == frozenset({"Create", ""})


def test_the_problem_with_an_if_without_else_names_the_missing_else() -> None:
    assert "can render '' (an {{if}} with no {{else}})" in (action_problem(NO_ELSE) or "")


def test_nested_ifs_render_every_combination_of_branches() -> None:
    template = '{{if eq .a "x"}}{{if eq .b "y"}}Delete{{end}}{{else}}Create{{end}}'
    assert possible_renders(template) == frozenset({"Delete", "", "Create"})


def test_nested_ifs_with_every_else_have_no_problem() -> None:
    template = '{{if eq .a "x"}}{{if eq .b "y"}}Delete{{else}}Create{{end}}{{else}}Create{{end}}'
    assert action_problem(template) is None


def test_an_else_if_chain_without_a_final_else_can_render_nothing() -> None:
    template = '{{if eq .a "x"}}Create{{else if eq .a "y"}}Delete{{end}}'
    assert possible_renders(template) == frozenset({"Create", "Delete", ""})


def test_an_else_if_chain_with_a_final_else_has_no_problem() -> None:
    template = '{{if eq .a "x"}}Create{{else if eq .a "y"}}Delete{{else}}Create{{end}}'
    assert action_problem(template) is None


def test_closing_braces_inside_a_quoted_condition_do_not_end_the_action() -> None:
    template = '{{if eq .CloudEvent.type "a}}b"}}Delete{{else}}Create{{end}}'
    assert possible_renders(template) == frozenset({"Delete", "Create"})


def test_a_single_character_in_single_quotes_is_a_valid_rune_in_a_condition() -> None:
    assert possible_renders("{{if eq .CloudEvent.type 'x'}}Delete{{else}}Create{{end}}") == frozenset(
        {"Delete", "Create"}
    )


# Whitespace and trim markers


def test_spaces_outside_the_actions_are_rendered() -> None:
    assert possible_renders(SPACED) == frozenset({" Create ", ""})


def test_the_problem_with_spaces_names_the_spaced_render_and_the_trim_markers() -> None:
    problem = action_problem(SPACED) or ""
    assert "' Create '" in problem
    assert "{{- and -}}" in problem


def test_trim_markers_remove_the_spaces_between_the_actions() -> None:
    assert possible_renders(TRIMMED) == frozenset({"Delete", "Create"})


def test_the_trimmed_template_has_no_problem() -> None:
    assert action_problem(TRIMMED) is None


def test_a_trailing_newline_from_a_yaml_block_scalar_is_rendered() -> None:
    assert possible_renders(SEED + "\n") == frozenset({"Delete\n", "Create\n"})


def test_a_trim_marker_on_the_last_action_removes_a_trailing_newline() -> None:
    assert possible_renders(SEED.removesuffix("}}") + " -}}\n") == frozenset({"Delete", "Create"})


def test_a_left_trim_marker_leaves_the_text_after_the_previous_action() -> None:
    template = '{{- if eq .CloudEvent.type "x" }}\n  Delete\n{{- else }}\n  Create\n{{- end }}'
    assert possible_renders(template) == frozenset({"\n  Delete", "\n  Create"})


def test_trim_markers_on_both_sides_of_multi_line_actions_remove_the_newlines() -> None:
    template = '{{- if eq .CloudEvent.type "x" -}}\n  Delete\n{{- else -}}\n  Create\n{{- end -}}\n'
    assert possible_renders(template) == frozenset({"Delete", "Create"})


def test_a_dash_without_a_following_space_is_not_a_trim_marker() -> None:
    assert possible_renders("Create {{-3}}") is None  # prints the number -3 after "Create "


def test_the_wrong_case_is_named_as_case_sensitive() -> None:
    assert "'create' (the comparison is case-sensitive)" in (action_problem("create") or "")


# Values only known at run time


def test_a_printed_field_is_not_statically_known() -> None:
    assert possible_renders("{{ .CloudEvent.data.action }}") is None


def test_the_problem_with_a_printed_field_names_the_field() -> None:
    problem = action_problem("{{ .CloudEvent.data.action }}") or ""
    assert "prints .CloudEvent.data.action, which can be anything" in problem


def test_printf_is_not_statically_known() -> None:
    assert possible_renders('{{ printf "%s" .CloudEvent.type }}') is None


def test_a_printed_field_in_any_branch_makes_the_renders_unknown() -> None:
    assert possible_renders('{{if eq .a "x"}}Delete{{else}}{{ .b }}{{end}}') is None


def test_every_problem_offers_the_fix() -> None:
    assert 'e.g. {{if eq .CloudEvent.type "x"}}Delete{{else}}Create{{end}}' in (action_problem(NO_ELSE) or "")


# Templates Go refuses to parse


def test_a_single_quoted_string_is_a_parse_error_about_rune_literals() -> None:
    with pytest.raises(TemplateError, match=r"malformed character constant.*rune literal"):
        possible_renders(SINGLE_QUOTED)


def test_the_problem_with_a_single_quoted_string_suggests_double_quotes() -> None:
    problem = action_problem(SINGLE_QUOTED) or ""
    assert problem.startswith("cloudEventAction is not a valid Go template")
    assert 'double quotes ("auth.example.com.logout")' in problem


def test_an_unclosed_action_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="unclosed action"):
        possible_renders('{{if eq .a "x"}}Delete{{else}}Create{{end')


def test_a_stray_end_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match=r"unexpected \{\{end\}\}"):
        possible_renders("Create{{end}}")


def test_an_else_outside_an_if_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match=r"unexpected \{\{else\}\}"):
        possible_renders("Create{{else}}Delete")


def test_an_if_without_end_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="unexpected EOF"):
        possible_renders('{{if eq .a "x"}}Delete{{else}}Create')


def test_a_second_else_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="second"):
        possible_renders('{{if eq .a "x"}}Delete{{else}}Create{{else}}Delete{{end}}')


def test_an_if_without_a_condition_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="missing value"):
        possible_renders("{{if}}Delete{{else}}Create{{end}}")


def test_an_empty_action_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="empty action"):
        possible_renders("Create{{ }}")


def test_an_unterminated_string_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="unterminated quoted string"):
        possible_renders('{{if eq .a "x}}Delete{{else}}Create{{end}}')


def test_an_escape_go_does_not_know_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="invalid escape"):
        possible_renders(r'{{ "Cre\qte" }}')


def test_an_unclosed_paren_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="unclosed left paren"):
        possible_renders('{{if (eq .a "x"}}Delete{{else}}Create{{end}}')


def test_an_unclosed_comment_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match="unclosed comment"):
        possible_renders("{{/* no end }}Create")


# Beyond if/else/end


@pytest.mark.parametrize(
    "template",
    ["{{range .x}}Create{{end}}", "{{with .x}}Create{{end}}", '{{define "t"}}Create{{end}}', '{{template "t"}}'],
)
def test_control_structures_other_than_if_are_unsupported(template: str) -> None:
    with pytest.raises(UnsupportedTemplateError):
        possible_renders(template)


def test_the_problem_with_range_names_it_as_unsupported() -> None:
    assert action_problem("{{range .x}}Create{{end}}") == (
        "cloudEventAction cannot be checked: it uses {{range}}, and only {{if}}, {{else}} and {{end}} are followed; "
        + FIX
    )


def test_too_many_possible_renders_is_unsupported() -> None:
    template = "".join(f'{{{{if eq .a "{letter}"}}}}{letter}{{{{end}}}}' for letter in string.ascii_letters[:11])
    with pytest.raises(UnsupportedTemplateError, match="more than 1024"):
        possible_renders(template)


def test_ifs_nested_too_deeply_are_unsupported() -> None:
    template = '{{if eq .a "x"}}' * 101 + "Create" + "{{else}}Delete{{end}}" * 101
    with pytest.raises(UnsupportedTemplateError, match="nest more than 100 deep"):
        possible_renders(template)
