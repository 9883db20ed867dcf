"""Gluon FPGA board top levels and bitstream builds."""
