"""The host link: a UART with framed, CRC-checked commands in front of the
training pipeline, a sample store on the chip and on-chip epochs.

``protocol`` defines the frames (shared by the gateware and the host driver),
``uart`` the serial line, ``frame_rx``/``frame_tx`` the framing,
``epoch_order`` the on-chip sample order, ``epoch_counters`` the per-epoch
counters, ``link_top`` the component a board wrapper instantiates.
"""
