// Shared by the non-GEMM shaders (pool, row ops, binary, rope, embed, conv, attention): one invocation per work item, no
// shared memory and no barriers (cheap on lavapipe, fine on GPUs for these memory-bound ops).
// The host spreads `total` items over a 2-D grid of 1-D workgroups (x up to the device's
// maxComputeWorkGroupCount[0]); tb_item() is the linear item index, tb_done() says past the end.
// Specialization constant 0 is the workgroup size.
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

uint tb_item() {
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}
