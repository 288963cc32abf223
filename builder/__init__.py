"""plansite builder: the plan as code, progress rules and the generated site.

See ARCHITECTURE.md for the module map.
"""
