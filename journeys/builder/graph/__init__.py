"""A picture of a journey's step graph as server-side SVG (no JavaScript, nothing from a CDN).

Layout, in the manner of a layered (Sugiyama-style) drawing, top to bottom:

1. edges come from the engine's own reading of the definition (``Definition``): explicit
   ``next_steps`` with their conditions, split variants, a wait's timeout branch, a
   ``schedule_next`` jump, else the next step by order (``edges``);
2. a depth-first walk from the entry step marks back edges (those closing a cycle); without
   them the graph is acyclic and each step's layer is its longest distance from the entry;
   steps the entry cannot reach get layers below the rest and a red outline (``layout``);
3. within a layer, steps are ordered by the mean position of their predecessors (two sweeps),
   which removes most crossings of the small graphs journeys are (``layout``);
4. forward edges are curves from the bottom of a step to the top of the next, labelled with
   their condition; back edges loop round the right-hand side (``svg``).

Shapes tell kinds apart: action (rectangle), wait (pill), wait for an event (dashed pill),
manual milestone (double border), branch (diamond), split (hexagon), end (ellipse).
"""
