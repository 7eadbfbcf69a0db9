#version 450
// Dispatch latency: a workgroup that does nothing.
layout(local_size_x = 1) in;
layout(std430, binding = 0) writeonly buffer Out { uint o[]; };
void main() {}
