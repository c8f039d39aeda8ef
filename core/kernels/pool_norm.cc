// pool_norm.cc — registers the pooling, normalisation, softmax and reduction kernels,
// which live one family per file:
//   pool.cc     MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, MaxUnpool
//   norm.cc     BatchNormalization, InstanceNormalization, LayerNormalization, LRN
//   softmax.cc  Softmax, LogSoftmax, Hardmax
//   reduce.cc   Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare},
//               ArgMax, ArgMin, MeanVarianceNormalization
#include "core/op.h"

namespace ember {

void register_pool_ops(OpRegistry &r);
void register_norm_ops(OpRegistry &r);
void register_softmax_ops(OpRegistry &r);
void register_reduce_ops(OpRegistry &r);

void register_pool_norm_ops(OpRegistry &r) {
    register_pool_ops(r);
    register_norm_ops(r);
    register_softmax_ops(r);
    register_reduce_ops(r);
}

}  // namespace ember
