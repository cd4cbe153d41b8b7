"""The generator's programs are valid Python that the reference semantics can run."""

import ast

from generator import handler_cases, handler_programs
from hypothesis import HealthCheck, given, settings

from fpgac.reference import load_reference


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(handler_cases())
def test_generated_programs_run_under_the_reference(case):
    program, cases = case
    tree = ast.parse(program.source)
    assert any(isinstance(n, ast.FunctionDef) for n in tree.body)
    module = load_reference(program.source)
    assert sorted(module.routes) == sorted(r.path for r in program.routes)
    for path, request in cases:
        response = module.call(path, request)
        assert isinstance(response, (int, dict, list))


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(handler_programs())
def test_every_function_ends_in_a_return(program):
    for node in ast.parse(program.source).body:
        if isinstance(node, ast.FunctionDef):
            last = node.body[-1]
            assert isinstance(last, (ast.Return, ast.If)), ast.dump(last)
