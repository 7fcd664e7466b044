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

#ifdef __SSE2__
#include <emmintrin.h>
/* Paeth for 3-byte pixels, one pixel a step in 16-bit lanes. Each pixel depends on the one to its left,
 * so the loop is bound by the latency of one step; SSE2 (every x86-64 CPU has it) halves that against
 * three scalar chains. The last pixel goes scalar, as the 4-byte loads would read past the row. */
static void paeth3(uint8_t *restrict dst, const uint8_t *restrict src, const uint8_t *restrict prev,
                   Py_ssize_t n) {
    const __m128i zero = _mm_setzero_si128(), low = _mm_set1_epi16(255);
    __m128i a = zero, c = zero;
    Py_ssize_t i = 0;
    for (; i + 3 < n; i += 3) {
        uint32_t bv, xv;
        memcpy(&bv, prev + i, 4);
        memcpy(&xv, src + i, 4);
        __m128i b = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)bv), zero);
        __m128i x = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)xv), zero);
        __m128i p = _mm_sub_epi16(b, c), q = _mm_sub_epi16(a, c), r = _mm_add_epi16(p, q);
        __m128i pa = _mm_max_epi16(p, _mm_sub_epi16(zero, p));
        __m128i pb = _mm_max_epi16(q, _mm_sub_epi16(zero, q));
        __m128i pc = _mm_max_epi16(r, _mm_sub_epi16(zero, r));
        __m128i take_c = _mm_cmpgt_epi16(pb, pc);
        __m128i bc = _mm_or_si128(_mm_andnot_si128(take_c, b), _mm_and_si128(take_c, c));
        __m128i not_a = _mm_or_si128(_mm_cmpgt_epi16(pa, pb), _mm_cmpgt_epi16(pa, pc));
        __m128i pred = _mm_or_si128(_mm_andnot_si128(not_a, a), _mm_and_si128(not_a, bc));
        a = _mm_and_si128(_mm_add_epi16(pred, x), low);
        c = b;
        uint32_t out = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(a, a));
        memcpy(dst + i, &out, 4); /* the fourth byte is the next pixel's, rewritten on the next step */
    }
    for (; i < n; i++) {
        int left = i >= 3 ? dst[i - 3] : 0, upleft = i >= 3 ? prev[i - 3] : 0;
        dst[i] = (uint8_t)(src[i] + paeth(left, prev[i], upleft));
    }
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
#ifdef __SSE2__
    if (type == 4 && bpp == 3) {
        paeth3(dst, src, prev, n);
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

/* Rows of `src` (filtered PNG scanlines when `filtered`, else plain pixel rows) to an out_w x out_h
 * grey picture in `out`. Returns 0, -1 when out of memory, or 1 + the row of an unknown filter type.
 * Each grey row is added into per-column sums; when the last row of an output row's window is in, the
 * sums give that output row and start again. Runs without the GIL: it touches no Python object. */
static long normalise_rows(const uint8_t *src, int filtered, int width, int height, int channels,
                           int out_w, int out_h, uint8_t *out) {
    Windows wx = {0}, wy = {0};
    uint8_t *rows = NULL, *grey = NULL;
    uint32_t *colsum = NULL;
    long status = -1;
    const Py_ssize_t stride = (Py_ssize_t)width * channels, step = stride + (filtered ? 1 : 0);
    if (make_windows(width, out_w, &wx) || make_windows(height, out_h, &wy)) goto done;
    rows = filtered ? calloc(2 * (size_t)stride, 1) : NULL;
    grey = channels == 3 ? malloc((size_t)width) : NULL;
    colsum = calloc((size_t)width, sizeof(uint32_t));
    if ((filtered && !rows) || (channels == 3 && !grey) || !colsum) goto done;
    status = 0;
    uint8_t *prev = rows, *cur = rows ? rows + stride : NULL; /* prev starts as the zero row above */
    const uint8_t *line = src;
    int j = 0; /* the next output row */
    for (int y = 0; y < height; y++, line += step) {
        if (j == out_h) { /* the picture is done; a PNG's remaining filter bytes are still checked */
            if (filtered && line[0] > 4) {
                status = 1 + (long)y;
                goto done;
            }
            continue;
        }
        const uint8_t *pix = line;
        if (filtered) {
            if (unfilter(line[0], cur, line + 1, prev, stride, channels)) {
                status = 1 + (long)y;
                goto done;
            }
            pix = cur;
            uint8_t *t = prev;
            prev = cur;
            cur = t;
        }
        if (y < wy.first[j]) continue;
        if (channels == 3) {
            rgb_to_grey(pix, grey, (size_t)width);
            pix = grey;
        }
        for (size_t x = 0; x < (size_t)width; x++) colsum[x] += pix[x];
        if (y < wy.first[j] + wy.count[j] - 1) continue;
        /* Row y closes output row j (and the next ones too, when growing: they share its window). */
        for (; j < out_h && wy.first[j] + wy.count[j] - 1 == y; j++) {
            uint8_t *o = out + (size_t)j * out_w;
            for (int i = 0; i < out_w; i++) {
                uint64_t sum = 0, n = (uint64_t)wx.count[i] * (uint64_t)wy.count[j];
                for (int x = 0; x < wx.count[i]; x++) sum += colsum[wx.first[i] + x];
                o[i] = n ? (uint8_t)((2 * sum + n) / (2 * n)) : 0;
            }
        }
        memset(colsum, 0, sizeof(uint32_t) * (size_t)width);
    }
done:
    free(colsum);
    free(rows);
    free(grey);
    free_windows(&wx);
    free_windows(&wy);
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
    if (status < 0) return PyErr_NoMemory();
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

PyMODINIT_FUNC PyInit__normalise(void) { return PyModule_Create(&module); }
