"""The two meanings of "z for this epoch" that zlens captures, by name.

in-flight: from the training forward pass (free; each row at the weights of the step that saw
it, in training mode). consistent: an inference-mode pass with the epoch's final weights.
"""

IN_FLIGHT = "in-flight"
CONSISTENT = "consistent"
KINDS = (IN_FLIGHT, CONSISTENT)
