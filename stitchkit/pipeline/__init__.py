"""The DVC pipeline around the library: params.yaml's schema and the validated jobs
stages run, DVC's steps for one stage, `stitchkit repro` on Ray with its cost model and
critical-path ranks, composing params.yaml from conf/, and the evidence suite's run
records and page. It names every area's parameters, so it sits on top.

May import: every other subpackage.
"""
