/* The C core of the dedup stage's normalise(): 8-bit pixels to the small greyscale picture the
 * perceptual hashes are computed from, a box average, streaming one row at a time.
 *
 * from_grey(pixels, width, height, out_width, out_height) -> bytes
 *     `pixels`: width x height greyscale bytes, row by row.
 * from_png_scanlines(raw, width, height, channels, out_width, out_height) -> bytes
 *     `raw`: a PNG's inflated image data, `height` scanlines of one filter-type byte and
 *     width * channels samples (8-bit, not interlaced; channels 1 = grey, 3 = RGB). The PNG filters
 *     (None, Sub, Up, Average, Paeth) are undone row by row and the full picture is never held.
 *
 * Both give the same bytes for the same pixels. An RGB pixel's grey is Pillow's convert("L"), ITU-R
 * 601-2 luma in 16-bit fixed point: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. Each output pixel is
 * the mean of the grey samples in its window, rounded half up once. The windows are those of Pillow's
 * BOX resample (bounds in its double arithmetic); Pillow rounds after each of its two passes, and
 * recent versions choose the pass order by shape, so its result can differ by one level. Owning the
 * arithmetic keeps the hashes independent of the installed Pillow. Malformed data (wrong length,
 * unknown filter type) raises ValueError, so that the caller can hand the file to a full decoder,
 * which names the fault.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The windows of the output pixels along one axis: output i averages the samples
 * first[i] .. first[i] + count[i] - 1. */
typedef struct {
    int *first;
    int *count;
} Windows;

static void free_windows(Windows *w) {
    free(w->first);
    free(w->count);
    w->first = w->count = NULL;
}

/* Box-filter windows for resampling `in_size` samples to `out_size`, in Pillow's double arithmetic:
 * output i is centred at (i + 0.5) * scale, and of the samples within its rounded bounds it takes those
 * whose centres fall in the half-open window (-0.5, 0.5], in units of the scale (at least one sample).
 * Shrinking, the windows tile the axis; growing, each holds one sample, shared by neighbours. */
static int make_windows(int in_size, int out_size, Windows *w) {
    const float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 0.5 * filterscale;
    double inv = 1.0 / filterscale;
    w->first = malloc(sizeof(int) * out_size);
    w->count = malloc(sizeof(int) * out_size);
    if (!w->first || !w->count) {
        free_windows(w);
        return -1;
    }
    for (int i = 0; i < out_size; i++) {
        double center = in0 + (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int first = lo, count = 0; /* the samples inside are consecutive: v grows with x */
        for (int x = lo; x < hi; x++) {
            double v = (x - center + 0.5) * inv;
            if (v > -0.5 && v <= 0.5) {
                if (count == 0) first = x;
                count++;
            }
        }
        w->first[i] = first;
        w->count[i] = count;
    }
    return 0;
}

/* Paeth's predictor without branches (the compiler makes selects of the comparisons). */
static inline int paeth(int a, int b, int c) {
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    int bc = pb <= pc ? b : c;
    return (pa <= pb) & (pa <= pc) ? a : bc;
}

/* SSE2 paths for RGB rows on x86-64; elsewhere, or built with -DNORMALISE_NO_SIMD (the tests build it so
 * too, to check the plain C against them), the plain C loops do all the work. */
#if defined(__SSE2__) && !defined(NORMALISE_NO_SIMD)
#define USE_SSE2 1
#include <emmintrin.h>
/* One Paeth step on 16-bit lanes: the decoded samples for left `a`, above `b`, above-left `c` and the
 * filtered samples `x`. */
static inline __m128i paeth_step(__m128i a, __m128i b, __m128i c, __m128i x) {
    const __m128i zero = _mm_setzero_si128();
    __m128i p = _mm_sub_epi16(b, c), q = _mm_sub_epi16(a, c), r = _mm_add_epi16(p, q);
    __m128i pa = _mm_max_epi16(p, _mm_sub_epi16(zero, p));
    __m128i pb = _mm_max_epi16(q, _mm_sub_epi16(zero, q));
    __m128i pc = _mm_max_epi16(r, _mm_sub_epi16(zero, r));
    __m128i take_c = _mm_cmpgt_epi16(pb, pc);
    __m128i bc = _mm_or_si128(_mm_andnot_si128(take_c, b), _mm_and_si128(take_c, c));
    __m128i not_a = _mm_or_si128(_mm_cmpgt_epi16(pa, pb), _mm_cmpgt_epi16(pa, pc));
    __m128i pred = _mm_or_si128(_mm_andnot_si128(not_a, a), _mm_and_si128(not_a, bc));
    return _mm_and_si128(_mm_add_epi16(pred, x), _mm_set1_epi16(255));
}

/* 4 bytes at `p` in the four low 16-bit lanes. */
static inline __m128i load4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)v), _mm_setzero_si128());
}

/* The four low (`high` 0) or high (`high` 1) 16-bit lanes of `v` as 4 bytes at `p`. */
static inline void store4(uint8_t *p, __m128i v, int high) {
    __m128i packed = _mm_packus_epi16(v, v);
    uint32_t out = (uint32_t)_mm_cvtsi128_si32(high ? _mm_srli_si128(packed, 4) : packed);
    memcpy(p, &out, 4);
}

/* Paeth for 3-byte pixels, one pixel a step in 16-bit lanes. Each pixel depends on the one to its left,
 * so the loop is bound by the latency of one step; SSE2 (every x86-64 CPU has it) halves that against
 * three scalar chains. The last pixel goes scalar, as the 4-byte loads would read past the row. */
static void paeth3(uint8_t *restrict dst, const uint8_t *restrict src, const uint8_t *restrict prev,
                   Py_ssize_t n) {
    __m128i a = _mm_setzero_si128(), c = a;
    Py_ssize_t i = 0;
    for (; i + 3 < n; i += 3) {
        __m128i b = load4(prev + i);
        a = paeth_step(a, b, c, load4(src + i));
        c = b;
        store4(dst + i, a, 0); /* the fourth byte is the next pixel's, rewritten on the next step */
    }
    for (; i < n; i++) {
        int left = i >= 3 ? dst[i - 3] : 0, upleft = i >= 3 ? prev[i - 3] : 0;
        dst[i] = (uint8_t)(src[i] + paeth(left, prev[i], upleft));
    }
}

/* Sub (`average` 0) or Average (`average` 1) for 3-byte pixels, one pixel a step like paeth3. */
static void left3(uint8_t *restrict dst, const uint8_t *restrict src, const uint8_t *restrict prev,
                  Py_ssize_t n, int average) {
    const __m128i low = _mm_set1_epi16(255);
    __m128i a = _mm_setzero_si128();
    Py_ssize_t i = 0;
    for (; i + 3 < n; i += 3) {
        __m128i pred = average ? _mm_srli_epi16(_mm_add_epi16(a, load4(prev + i)), 1) : a;
        a = _mm_and_si128(_mm_add_epi16(pred, load4(src + i)), low);
        store4(dst + i, a, 0);
    }
    for (; i < n; i++) {
        int left = i >= 3 ? dst[i - 3] : 0;
        dst[i] = (uint8_t)(src[i] + (average ? (left + prev[i]) >> 1 : left));
    }
}

/* Two consecutive Paeth rows of 3-byte pixels at once (n = 3 * width, width >= 3), to double the
 * throughput of the latency-bound chain: the low lanes decode pixel p of the upper row (into d0), the
 * high lanes pixel p - 1 of the lower row (into d1), whose above and above-left pixels the previous steps
 * have just decoded. Most Paeth rows of real PNGs come in runs, so most of them go two by two. */
static void paeth3_pair(uint8_t *restrict d0, uint8_t *restrict d1, const uint8_t *restrict s0,
                        const uint8_t *restrict s1, const uint8_t *restrict prev, Py_ssize_t n) {
    Py_ssize_t w = n / 3, p;
    for (int k = 0; k < 3; k++) d0[k] = (uint8_t)(s0[k] + prev[k]); /* paeth(0, b, 0) == b */
    /* a: low = upper row's pixel p - 1, high = lower row's p - 2; c: low = prev[p - 1], high = upper p - 2 */
    __m128i a = _mm_unpacklo_epi64(load4(d0), _mm_setzero_si128());
    __m128i c = _mm_unpacklo_epi64(load4(prev), _mm_setzero_si128());
    for (p = 1; p + 1 < w; p++) {
        __m128i b = _mm_unpacklo_epi64(load4(prev + 3 * p), a); /* high: the upper row's pixel p - 1 */
        __m128i x = _mm_unpacklo_epi64(load4(s0 + 3 * p), load4(s1 + 3 * (p - 1)));
        a = paeth_step(a, b, c, x);
        c = b;
        store4(d0 + 3 * p, a, 0);
        store4(d1 + 3 * (p - 1), a, 1);
    }
    /* Scalar: the upper row's last pixel, then the lower row's last two. */
    for (Py_ssize_t i = 3 * (w - 1); i < n; i++) d0[i] = (uint8_t)(s0[i] + paeth(d0[i - 3], prev[i], prev[i - 3]));
    for (Py_ssize_t i = 3 * (w - 2); i < n; i++) d1[i] = (uint8_t)(s1[i] + paeth(d1[i - 3], d0[i], d0[i - 3]));
}
#endif

/* Undo one row's filter: `src` holds the filtered bytes, `prev` the previous decoded row, `dst` gets
 * the decoded row. Sub, Average and Paeth depend on the pixel to the left: the loops keep it (and, for
 * Paeth, the one above-left) in registers, one variable a channel, rather than reading back a store. */
static int unfilter(int type, uint8_t *restrict dst, const uint8_t *restrict src,
                    const uint8_t *restrict prev, Py_ssize_t n, int bpp) {
    Py_ssize_t i;
    if (type == 0) {
        memcpy(dst, src, (size_t)n);
        return 0;
    }
    if (type == 2) {
        for (i = 0; i < n; i++) dst[i] = (uint8_t)(src[i] + prev[i]);
        return 0;
    }
    if (type < 1 || type > 4) return -1;
#ifdef USE_SSE2
    if (bpp == 3) {
        if (type == 4) paeth3(dst, src, prev, n);
        else left3(dst, src, prev, n, type == 3);
        return 0;
    }
#endif
    if (bpp == 3) {
        int a0 = 0, a1 = 0, a2 = 0, c0 = 0, c1 = 0, c2 = 0; /* left and above-left, per channel */
        for (i = 0; i + 2 < n; i += 3) {
            int b0 = prev[i], b1 = prev[i + 1], b2 = prev[i + 2];
            if (type == 1) {
                a0 = (src[i] + a0) & 255, a1 = (src[i + 1] + a1) & 255, a2 = (src[i + 2] + a2) & 255;
            } else if (type == 3) {
                a0 = (src[i] + ((a0 + b0) >> 1)) & 255;
                a1 = (src[i + 1] + ((a1 + b1) >> 1)) & 255;
                a2 = (src[i + 2] + ((a2 + b2) >> 1)) & 255;
            } else {
                a0 = (src[i] + paeth(a0, b0, c0)) & 255;
                a1 = (src[i + 1] + paeth(a1, b1, c1)) & 255;
                a2 = (src[i + 2] + paeth(a2, b2, c2)) & 255;
                c0 = b0, c1 = b1, c2 = b2;
            }
            dst[i] = (uint8_t)a0, dst[i + 1] = (uint8_t)a1, dst[i + 2] = (uint8_t)a2;
        }
        return 0;
    }
    int a = 0, c = 0; /* bpp == 1 */
    for (i = 0; i < n; i++) {
        int b = prev[i];
        if (type == 1) {
            a = (src[i] + a) & 255;
        } else if (type == 3) {
            a = (src[i] + ((a + b) >> 1)) & 255;
        } else {
            a = (src[i] + paeth(a, b, c)) & 255;
            c = b;
        }
        dst[i] = (uint8_t)a;
    }
    return 0;
}

/* Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point. Plain C that the compiler vectorises;
 * on x86-64 Linux a second, AVX2 build of it is picked at load time where the CPU has AVX2 (the
 * interleaved RGB bytes need its shuffles: with SSE2 alone this loop runs 2.5 times slower). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
static void rgb_to_grey(const uint8_t *restrict rgb, uint8_t *restrict grey, size_t width) {
    for (size_t x = 0; x < width; x++) {
        grey[x] = (uint8_t)((rgb[3 * x] * 19595u + rgb[3 * x + 1] * 38470u + rgb[3 * x + 2] * 7471u + 0x8000u) >> 16);
    }
}

/* Whether rows can stream through the windows: none empty, each one the same as the one before or
 * starting after its end. True of box windows (shrinking they tile the axis, growing each holds one
 * sample), checked all the same: a broken assumption must be an error, never a wrong picture. */
static int windows_stream(const Windows *w, int n) {
    for (int i = 0; i < n; i++) {
        if (w->count[i] < 1) return 0;
        if (i == 0 || (w->first[i] == w->first[i - 1] && w->count[i] == w->count[i - 1])) continue;
        if (w->first[i] < w->first[i - 1] + w->count[i - 1]) return 0;
    }
    return 1;
}

/* Where decoded rows go: each grey row is added into per-column sums; when the last row of an output
 * row's window is in, the sums give that output row and start again. */
typedef struct {
    Windows wx, wy;
    int width, channels, out_w, out_h;
    int j; /* the next output row */
    uint8_t *grey;
    uint32_t *colsum;
    uint8_t *out;
} Sink;

static void take_row(Sink *k, const uint8_t *pix, int y) {
    if (k->j == k->out_h || y < k->wy.first[k->j]) return;
    const size_t width = (size_t)k->width;
    if (k->channels == 3) {
        rgb_to_grey(pix, k->grey, width);
        pix = k->grey;
    }
    for (size_t x = 0; x < width; x++) k->colsum[x] += pix[x];
    if (y < k->wy.first[k->j] + k->wy.count[k->j] - 1) return;
    /* Row y closes output row j (and the next ones too, when growing: they share its window). */
    for (; k->j < k->out_h && k->wy.first[k->j] + k->wy.count[k->j] - 1 == y; k->j++) {
        uint8_t *o = k->out + (size_t)k->j * k->out_w;
        for (int i = 0; i < k->out_w; i++) {
            uint64_t sum = 0, n = (uint64_t)k->wx.count[i] * (uint64_t)k->wy.count[k->j];
            for (int x = 0; x < k->wx.count[i]; x++) sum += k->colsum[k->wx.first[i] + x];
            o[i] = n ? (uint8_t)((2 * sum + n) / (2 * n)) : 0;
        }
    }
    memset(k->colsum, 0, sizeof(uint32_t) * width);
}

/* Rows of `src` (filtered PNG scanlines when `filtered`, else plain pixel rows) to an out_w x out_h
 * grey picture in `out`. Returns 0, -1 when out of memory, -2 when the windows would not stream (never
 * seen), or 1 + the row of an unknown filter type. Runs without the GIL: it touches no Python object. */
static long normalise_rows(const uint8_t *src, int filtered, int width, int height, int channels,
                           int out_w, int out_h, uint8_t *out) {
    Sink k = {.width = width, .channels = channels, .out_w = out_w, .out_h = out_h, .out = out};
    uint8_t *rows = NULL;
    long status = -1;
    const Py_ssize_t stride = (Py_ssize_t)width * channels, step = stride + (filtered ? 1 : 0);
    if (make_windows(width, out_w, &k.wx) || make_windows(height, out_h, &k.wy)) goto done;
    if (!windows_stream(&k.wx, out_w) || !windows_stream(&k.wy, out_h)) {
        status = -2;
        goto done;
    }
    rows = filtered ? calloc(3 * (size_t)stride, 1) : NULL; /* the row above (zeros at first), two more */
    k.grey = channels == 3 ? malloc((size_t)width) : NULL;
    k.colsum = calloc((size_t)width, sizeof(uint32_t));
    if ((filtered && !rows) || (channels == 3 && !k.grey) || !k.colsum) goto done;
    status = 0;
    uint8_t *prev = rows, *cur = rows ? rows + stride : NULL, *next = rows ? rows + 2 * stride : NULL;
    const uint8_t *line = src;
    int y = 0;
    while (y < height && k.j < out_h) {
        if (!filtered) {
            take_row(&k, line, y);
            y++, line += step;
            continue;
        }
#ifdef USE_SSE2
        if (channels == 3 && width >= 3 && line[0] == 4 && y + 1 < height && line[step] == 4) {
            paeth3_pair(cur, next, line + 1, line + step + 1, prev, stride);
            take_row(&k, cur, y);
            take_row(&k, next, y + 1);
            uint8_t *t = prev;
            prev = next, next = cur, cur = t;
            y += 2, line += 2 * step;
            continue;
        }
#endif
        if (unfilter(line[0], cur, line + 1, prev, stride, channels)) {
            status = 1 + (long)y;
            goto done;
        }
        take_row(&k, cur, y);
        uint8_t *t = prev;
        prev = cur, cur = t;
        y++, line += step;
    }
    /* The picture is done; a PNG's remaining rows do not show in it, but their filter bytes must be valid. */
    for (; filtered && y < height; y++, line += step) {
        if (line[0] > 4) {
            status = 1 + (long)y;
            goto done;
        }
    }
done:
    free(k.colsum);
    free(k.grey);
    free(rows);
    free_windows(&k.wx);
    free_windows(&k.wy);
    return status;
}

static PyObject *run(Py_buffer *buf, int filtered, int width, int height, int channels, int out_w,
                     int out_h) {
    if (width < 1 || height < 1 || out_w < 1 || out_h < 1 || (channels != 1 && channels != 3)) {
        PyErr_SetString(PyExc_ValueError, "bad size or channel count");
        return NULL;
    }
    Py_ssize_t expected = ((Py_ssize_t)width * channels + (filtered ? 1 : 0)) * height;
    if (buf->len != expected) {
        PyErr_Format(PyExc_ValueError, "%zd bytes of image data, expected %zd", buf->len, expected);
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)out_w * out_h);
    if (!result) return NULL;
    long status;
    Py_BEGIN_ALLOW_THREADS
    status = normalise_rows(buf->buf, filtered, width, height, channels, out_w, out_h,
                            (uint8_t *)PyBytes_AS_STRING(result));
    Py_END_ALLOW_THREADS
    if (status == 0) return result;
    Py_DECREF(result);
    if (status == -1) return PyErr_NoMemory();
    if (status == -2) return PyErr_Format(PyExc_ValueError, "box windows that do not tile: %dx%d to %dx%d",
                                          width, height, out_w, out_h);
    return PyErr_Format(PyExc_ValueError, "unknown PNG filter type on row %ld", status - 1);
}

static PyObject *from_png_scanlines(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer raw;
    int width, height, channels, out_w, out_h;
    if (!PyArg_ParseTuple(args, "y*iiiii", &raw, &width, &height, &channels, &out_w, &out_h)) return NULL;
    PyObject *result = run(&raw, 1, width, height, channels, out_w, out_h);
    PyBuffer_Release(&raw);
    return result;
}

static PyObject *from_grey(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer pixels;
    int width, height, out_w, out_h;
    if (!PyArg_ParseTuple(args, "y*iiii", &pixels, &width, &height, &out_w, &out_h)) return NULL;
    PyObject *result = run(&pixels, 0, width, height, 1, out_w, out_h);
    PyBuffer_Release(&pixels);
    return result;
}

static PyMethodDef methods[] = {
    {"from_png_scanlines", from_png_scanlines, METH_VARARGS,
     "from_png_scanlines(raw, width, height, channels, out_width, out_height) -> bytes\n\n"
     "A PNG's inflated 8-bit scanlines (1 or 3 channels, not interlaced), unfiltered, turned to grey and "
     "box-averaged to out_width x out_height."},
    {"from_grey", from_grey, METH_VARARGS,
     "from_grey(pixels, width, height, out_width, out_height) -> bytes\n\n"
     "width x height greyscale bytes box-averaged to out_width x out_height."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_normalise", .m_size = -1,
                                    .m_methods = methods};

/* Bumped with every change of the functions above; hashing.py refuses a build whose ABI differs, so a
   stale .so left by an older checkout fails with "run make install" instead of hashing differently. */
#define NORMALISE_ABI 2

PyMODINIT_FUNC PyInit__normalise(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "ABI", NORMALISE_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
