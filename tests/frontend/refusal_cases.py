"""Handler snippets that the language refuses, one construct each (see test_refusals.py).

Every snippet is the body of a module that is otherwise valid; ``HEADER`` is prepended.
"""

HEADER = '''from fpgac import App, Record, Array, Table, u8, u16, i8, uint, popcount
app = App("demo")
'''

CASES = {
    "while": '''
@app.post("/f")
def f(x: u8) -> u8:
    while x > 3:
        x = x - 1
    return x
''',
    "try": '''
@app.post("/f")
def f(x: u8) -> u8:
    try:
        x = x + 1
    except Exception:
        pass
    return x
''',
    "with": '''
@app.post("/f")
def f(x: u8) -> u8:
    with x:
        pass
    return x
''',
    "global": '''
@app.post("/f")
def f(x: u8) -> u8:
    global y
    return x
''',
    "nonlocal": '''
@app.post("/f")
def f(x: u8) -> u8:
    nonlocal y
    return x
''',
    "del": '''
@app.post("/f")
def f(x: u8) -> u8:
    y = x
    del y
    return x
''',
    "assert": '''
@app.post("/f")
def f(x: u8) -> u8:
    assert x > 0
    return x
''',
    "raise": '''
@app.post("/f")
def f(x: u8) -> u8:
    raise ValueError
''',
    "float": '''
@app.post("/f")
def f(x: u8) -> u8:
    return x * 1.5
''',
    "string": '''
@app.post("/f")
def f(x: u8) -> u8:
    y = "hello"
    return x
''',
    "dict": '''
@app.post("/f")
def f(x: u8) -> u8:
    y = {1: x}
    return x
''',
    "set": '''
@app.post("/f")
def f(x: u8) -> u8:
    y = {x}
    return x
''',
    "comprehension": '''
@app.post("/f")
def f(x: u8) -> u8:
    y = [i for i in range(4)]
    return x
''',
    "lambda": '''
@app.post("/f")
def f(x: u8) -> u8:
    g = lambda v: v
    return x
''',
    "yield": '''
@app.post("/f")
def f(x: u8) -> u8:
    yield x
''',
    "async": '''
@app.post("/f")
async def f(x: u8) -> u8:
    return x
''',
    "class": '''
class Point:
    x: u8

@app.post("/f")
def f(x: u8) -> u8:
    return x
''',
    "import": '''
import math

@app.post("/f")
def f(x: u8) -> u8:
    return x
''',
    "import_from": '''
from math import gcd

@app.post("/f")
def f(x: u8) -> u8:
    return x
''',
    "star_args": '''
@app.post("/f")
def f(*xs: u8) -> u8:
    return 0
''',
    "kwargs": '''
@app.post("/f")
def f(x: u8, **rest: u8) -> u8:
    return x
''',
    "default": '''
@app.post("/f")
def f(x: u8 = 3) -> u8:
    return x
''',
    "unannotated_param": '''
@app.post("/f")
def f(x) -> u8:
    return x
''',
    "unannotated_return": '''
@app.post("/f")
def f(x: u8):
    return x
''',
    "tuple_assign": '''
@app.post("/f")
def f(x: u8) -> u8:
    a, b = x, x
    return a
''',
    "is": '''
@app.post("/f")
def f(x: u8) -> u8:
    return x is 0
''',
    "in": '''
@app.post("/f")
def f(x: u8) -> u8:
    return x in 3
''',
    "call_unknown": '''
@app.post("/f")
def f(x: u8) -> u8:
    return print(x)
''',
    "data_range": '''
@app.post("/f")
def f(x: u8, n: u8) -> u8:
    for i in range(n):
        x = x + 1
    return x
''',
    "recursion": '''
def g(x: u8) -> u8:
    return g(x)

@app.post("/f")
def f(x: u8) -> u8:
    return g(x)
''',
    "true_division": '''
@app.post("/f")
def f(x: u8) -> u8:
    return x / 2
''',
    "negative_shift": '''
@app.post("/f")
def f(x: u8, n: i8) -> u8:
    return x << n
''',
    "wide_shift": '''
@app.post("/f")
def f(x: u8, n: u16) -> u8:
    return x << n
''',
    "const_index": '''
@app.post("/f")
def f(a: Array[u8, 4]) -> u8:
    return a[4]
''',
    "table_overflow": '''
T = Table(u8, [1, 2, 300])

@app.post("/f")
def f(x: u8) -> u8:
    return T[x]
''',
    "const_overflow": '''
LIMIT: u8 = 256

@app.post("/f")
def f(x: u8) -> u8:
    return x
''',
    "module_mutation": '''
LIMIT = 5

@app.post("/f")
def f(x: u8) -> u8:
    LIMIT = x
    return x
''',
    "missing_return": '''
@app.post("/f")
def f(x: u8) -> u8:
    if x > 3:
        return x
''',
    "unknown_field": '''
class P(Record):
    a: u8

@app.post("/f")
def f(p: P) -> u8:
    return p.b
''',
    "missing_field": '''
class P(Record):
    a: u8
    b: u8

@app.post("/f")
def f(x: u8) -> P:
    return P(a=x)
''',
    "array_literal_untyped": '''
@app.post("/f")
def f(x: u8) -> u8:
    a = [x, x]
    return x
''',
    "redeclare": '''
@app.post("/f")
def f(x: u8) -> u8:
    y: u8 = x
    y: u16 = x
    return y
''',
    "not_imported": '''
@app.post("/f")
def f(x: u32) -> u8:
    return x
''',
    "break_outside": '''
@app.post("/f")
def f(x: u8) -> u8:
    break
''',
    "undefined_name": '''
@app.post("/f")
def f(x: u8) -> u8:
    return y
''',
    "maybe_undefined": '''
@app.post("/f")
def f(x: u8) -> u8:
    if x > 3:
        y = 1
    return y
''',
    "pow_variable": '''
@app.post("/f")
def f(x: u8, k: u8) -> u8:
    return x ** k
''',
    "method_call": '''
@app.post("/f")
def f(x: u8) -> u8:
    return x.bit_length()
''',
    "nested_function": '''
@app.post("/f")
def f(x: u8) -> u8:
    def g(y: u8) -> u8:
        return y
    return x
''',
    "tuple_return": '''
@app.post("/f")
def f(x: u8) -> u8:
    return (x, x)
''',
    "for_else": '''
@app.post("/f")
def f(x: u8) -> u8:
    for i in range(3):
        x = x + 1
    else:
        x = 0
    return x
''',
    "table_write": '''
T = Table(u8, [1, 2, 3])

@app.post("/f")
def f(x: u8) -> u8:
    T[0] = x
    return x
''',
    "bad_type": '''
@app.post("/f")
def f(x: int) -> u8:
    return x
''',
    "stdlib_app": None,  # the app named after a stdlib module: see test_refusals.py
}
