"""The condition language's grammar, for lark's LALR(1) parser."""

from __future__ import annotations

# Precedence, loosest first: or, and, not, comparisons (not chainable), + -, * /, unary minus.
# Dotted names are one rule so that the parser, not the lexer, tells `config.x` from `target.x`.
GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | or_expr OR and_expr               -> logical

?and_expr: not_expr
         | and_expr AND not_expr            -> logical

?not_expr: comparison
         | NOT not_expr                     -> not_

?comparison: sum
           | sum COMPARE_OP sum             -> compare

?sum: product
    | sum PLUS product                      -> arithmetic
    | sum MINUS product                     -> arithmetic

?product: unary
        | product TIMES unary               -> arithmetic
        | product DIVIDE unary              -> arithmetic

?unary: atom
      | MINUS unary                         -> negate

?atom: NUMBER                               -> number
     | DURATION                             -> duration
     | STRING                               -> string
     | TRUE                                 -> boolean
     | FALSE                                -> boolean
     | NAME                                 -> name
     | NAME (DOT NAME)+                     -> dotted
     | NAME LPAR [arguments] RPAR           -> call
     | LPAR or_expr RPAR                    -> group

arguments: or_expr (COMMA or_expr)*

OR: "or"
AND: "and"
NOT: "not"
TRUE: "true"
FALSE: "false"
COMPARE_OP: "<=" | ">=" | "==" | "!=" | "<" | ">"
PLUS: "+"
MINUS: "-"
TIMES: "*"
DIVIDE: "/"
LPAR: "("
RPAR: ")"
COMMA: ","
DOT: "."

// A duration outranks a number so that `5m` is one token, not 5 followed by a name `m`.
DURATION.2: /([0-9]+(\.[0-9]+)?(ms|w|d|h|m|s))+(?![A-Za-z0-9_])/
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /"([^"\\\n]|\\.)*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/

%ignore /[ \t\r\n]+/
"""
