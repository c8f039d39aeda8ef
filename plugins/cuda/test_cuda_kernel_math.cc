// test_cuda_kernel_math.cc — the per-element code of the CUDA plugin's kernels
// (cuda_kernel_math.h, the same functions the GPU runs) on the host, against naive
// references written independently: activations at known points, transpose and
// broadcast offsets, depthwise convolution (multiplier, strides, dilations, asymmetric
// pads, bias, residual) and pooling (max / average, pads, windows past the end as with
// ceil_mode, count_include_pad). No GPU, driver or CUDA library is needed.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cuda_kernel_math.h"

using namespace ember_cuda;

namespace {

int g_failures = 0;

void expect_near(const char *what, double got, double want, double tol) {
    if (!(std::fabs(got - want) <= tol)) {
        std::printf("FAIL %s: got %.7g, want %.7g\n", what, got, want);
        g_failures++;
    }
}

void test_acts() {
    struct Case { const char *name; ActKind kind; float a, b, x, want; };
    const Case cases[] = {
        {"Relu(-1)", ActKind::Relu, 0, 0, -1.0f, 0.0f},
        {"Relu(2)", ActKind::Relu, 0, 0, 2.0f, 2.0f},
        {"LeakyRelu(-2)", ActKind::LeakyRelu, 0.1f, 0, -2.0f, -0.2f},
        {"Clip(7,[0,6])", ActKind::Clip, 0.0f, 6.0f, 7.0f, 6.0f},
        {"Clip(-1,[0,6])", ActKind::Clip, 0.0f, 6.0f, -1.0f, 0.0f},
        {"Sigmoid(0)", ActKind::Sigmoid, 0, 0, 0.0f, 0.5f},
        {"Tanh(1)", ActKind::Tanh, 0, 0, 1.0f, 0.7615942f},
        {"HardSigmoid(0)", ActKind::HardSigmoid, 0.2f, 0.5f, 0.0f, 0.5f},
        {"HardSigmoid(5)", ActKind::HardSigmoid, 0.2f, 0.5f, 5.0f, 1.0f},
        {"HardSwish(3)", ActKind::HardSwish, 0, 0, 3.0f, 3.0f},
        {"HardSwish(-3)", ActKind::HardSwish, 0, 0, -3.0f, 0.0f},
        {"HardSwish(1)", ActKind::HardSwish, 0, 0, 1.0f, 0.6666667f},
        {"Gelu(1)", ActKind::Gelu, 0, 0, 1.0f, 0.8413447f},
        {"GeluTanh(1)", ActKind::GeluTanh, 0, 0, 1.0f, 0.8411920f},
        {"Elu(-1)", ActKind::Elu, 1.0f, 0, -1.0f, -0.6321206f},
        {"Selu(-1)", ActKind::Selu, 1.6732632f, 1.0507010f, -1.0f, -1.1113307f},
        {"Selu(2)", ActKind::Selu, 1.6732632f, 1.0507010f, 2.0f, 2.101402f},
        {"Softplus(0)", ActKind::Softplus, 0, 0, 0.0f, 0.6931472f},
        {"Softplus(30)", ActKind::Softplus, 0, 0, 30.0f, 30.0f},
        {"Abs(-3)", ActKind::Abs, 0, 0, -3.0f, 3.0f},
        {"Neg(3)", ActKind::Neg, 0, 0, 3.0f, -3.0f},
        {"Sqrt(4)", ActKind::Sqrt, 0, 0, 4.0f, 2.0f},
        {"Exp(1)", ActKind::Exp, 0, 0, 1.0f, 2.7182818f},
        {"None(5)", ActKind::None, 0, 0, 5.0f, 5.0f},
    };
    for (const Case &c : cases) {
        Act act;
        act.kind = c.kind;
        act.a = c.a;
        act.b = c.b;
        expect_near(c.name, apply_act(c.x, act), c.want, 1e-5 + 1e-6 * std::fabs(c.want));
    }
}

void test_offsets() {
    // Transpose [2,3,4,5] with perm [0,2,3,1]: output (n,h,w,c) reads input (n,c,h,w).
    const int64_t N = 2, C = 3, H = 4, W = 5;
    int64_t dims[4] = {N, H, W, C}, strides[4] = {C * H * W, W, 1, H * W};
    int64_t i = 0;
    bool ok = true;
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t c = 0; c < C; c++, i++)
                    ok &= strided_offset(i, 4, dims, strides) == ((n * C + c) * H + h) * W + w;
    if (!ok) { std::printf("FAIL transpose offsets\n"); g_failures++; }
    // Broadcast [3,1] against [2,3,4] (stride 0 on the broadcast axes).
    int64_t bd[3] = {2, 3, 4}, bs[3] = {0, 1, 0};
    ok = true;
    i = 0;
    for (int64_t a = 0; a < 2; a++)
        for (int64_t b = 0; b < 3; b++)
            for (int64_t c = 0; c < 4; c++, i++) ok &= strided_offset(i, 3, bd, bs) == b;
    if (!ok) { std::printf("FAIL broadcast offsets\n"); g_failures++; }
    expect_near("Div", binary_op(BinaryOp::Div, 3.0f, 2.0f), 1.5, 0);
    expect_near("Sub", binary_op(BinaryOp::Sub, 3.0f, 2.0f), 1.0, 0);
}

std::vector<float> random_vec(size_t n, std::mt19937 &rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v) x = u(rng);
    return v;
}

void test_depthwise() {
    std::mt19937 rng(7);
    struct Case { int64_t n, c, h, w, mult; int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr; };
    const Case cases[] = {
        {1, 4, 7, 9, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   // same-size 3x3
        {2, 3, 8, 8, 2, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},   // SAME_UPPER stride 2, multiplier 2
        {1, 2, 9, 7, 1, 5, 3, 1, 2, 2, 1, 4, 1, 4, 1},   // dilation 2 rows, stride 2 cols
        {1, 5, 5, 5, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // 1x1, multiplier 3
    };
    for (const Case &k : cases) {
        DepthwiseParams p{};
        p.n = k.n; p.c = k.c; p.h = k.h; p.w = k.w; p.multiplier = k.mult;
        p.kh = k.kh; p.kw = k.kw; p.sh = k.sh; p.sw = k.sw; p.dh = k.dh; p.dw = k.dw; p.pt = k.pt; p.pl = k.pl;
        p.oh = (k.h + k.pt + k.pb - ((k.kh - 1) * k.dh + 1)) / k.sh + 1;
        p.ow = (k.w + k.pl + k.pr - ((k.kw - 1) * k.dw + 1)) / k.sw + 1;
        int64_t K = k.c * k.mult;
        std::vector<float> x = random_vec(static_cast<size_t>(k.n * k.c * k.h * k.w), rng);
        std::vector<float> w = random_vec(static_cast<size_t>(K * k.kh * k.kw), rng);
        std::vector<float> bias = random_vec(static_cast<size_t>(K), rng);
        std::vector<float> res = random_vec(static_cast<size_t>(k.n * K * p.oh * p.ow), rng);
        double worst = 0;
        int64_t i = 0;
        for (int64_t n = 0; n < k.n; n++)
            for (int64_t oc = 0; oc < K; oc++)
                for (int64_t oy = 0; oy < p.oh; oy++)
                    for (int64_t ox = 0; ox < p.ow; ox++, i++) {
                        // Reference: the padded input, group g = oc / multiplier.
                        double want = bias[oc] + res[i];
                        int64_t g = oc / k.mult;
                        for (int ky = 0; ky < k.kh; ky++)
                            for (int kx = 0; kx < k.kw; kx++) {
                                int64_t py = oy * k.sh + ky * k.dh, px = ox * k.sw + kx * k.dw;  // padded coords
                                int64_t iy = py - k.pt, ix = px - k.pl;
                                if (iy < 0 || ix < 0 || iy >= k.h || ix >= k.w) continue;
                                want += static_cast<double>(x[((n * k.c + g) * k.h + iy) * k.w + ix]) *
                                        w[(oc * k.kh + ky) * k.kw + kx];
                            }
                        double got = depthwise_point(x.data(), w.data(), bias.data(), res.data(), p, i);
                        worst = std::max(worst, std::fabs(got - want));
                    }
        if (!(worst <= 1e-5)) {
            std::printf("FAIL depthwise %lldx%lld k%dx%d s%d,%d: max |diff| %g\n", (long long)k.h, (long long)k.w,
                        k.kh, k.kw, k.sh, k.sw, worst);
            g_failures++;
        }
    }
}

void test_pool() {
    std::mt19937 rng(11);
    struct Case { bool max, cip; int64_t h, w, oh, ow; int kh, kw, sh, sw, dh, dw, pt, pl; };
    const Case cases[] = {
        {true, false, 112, 112, 56, 56, 3, 3, 2, 2, 1, 1, 0, 0},  // ceil_mode: last window runs past the end
        {true, false, 8, 8, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1},        // pads
        {true, false, 9, 9, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1},        // dilation
        {false, false, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1},       // average, pads not counted
        {false, true, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1},        // average, pads counted
        {false, false, 6, 6, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0},       // average, ceil_mode overhang
    };
    for (const Case &k : cases) {
        PoolParams p{};
        p.nc = 3; p.h = k.h; p.w = k.w; p.oh = k.oh; p.ow = k.ow;
        p.kh = k.kh; p.kw = k.kw; p.sh = k.sh; p.sw = k.sw; p.dh = k.dh; p.dw = k.dw; p.pt = k.pt; p.pl = k.pl;
        p.max = k.max;
        p.count_include_pad = k.cip;
        std::vector<float> x = random_vec(static_cast<size_t>(p.nc * k.h * k.w), rng);
        double worst = 0;
        int64_t i = 0;
        for (int64_t c = 0; c < p.nc; c++)
            for (int64_t oy = 0; oy < k.oh; oy++)
                for (int64_t ox = 0; ox < k.ow; ox++, i++) {
                    double acc = k.max ? -1e30 : 0.0;
                    int inside = 0;
                    for (int ky = 0; ky < k.kh; ky++)
                        for (int kx = 0; kx < k.kw; kx++) {
                            int64_t iy = oy * k.sh + ky * k.dh - k.pt, ix = ox * k.sw + kx * k.dw - k.pl;
                            if (iy < 0 || ix < 0 || iy >= k.h || ix >= k.w) continue;
                            double v = x[(c * k.h + iy) * k.w + ix];
                            acc = k.max ? std::max(acc, v) : acc + v;
                            inside++;
                        }
                    double want = k.max ? acc : acc / (k.cip ? k.kh * k.kw : inside);
                    worst = std::max(worst, std::fabs(pool_point(x.data(), p, i) - want));
                }
        if (!(worst <= 1e-6)) {
            std::printf("FAIL pool %s %lldx%lld: max |diff| %g\n", k.max ? "max" : "avg", (long long)k.h,
                        (long long)k.w, worst);
            g_failures++;
        }
    }
}

}  // namespace

int main() {
    test_acts();
    test_offsets();
    test_depthwise();
    test_pool();
    if (g_failures) {
        std::printf("test_cuda_kernel_math: %d failure(s)\n", g_failures);
        return 1;
    }
    std::printf("test_cuda_kernel_math: all passed\n");
    return 0;
}
