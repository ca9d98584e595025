;; SIMD kernels of the LAYERWISE merge (128-bit WebAssembly SIMD, 4 float32 lanes).
;;
;; Source of mergeKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt). Every
;; function gives the same bits as its scalar counterpart in ../mergeKernels.ts and
;; ../encodeFloats.ts: WebAssembly float32 arithmetic is IEEE 754 binary32 with round-to-nearest-
;; even and no flush-to-zero, which is what Math.fround after every operation computes.
;; Pointers are byte offsets into the exported memory; n counts elements, 4 per step, and is a
;; multiple of 8 (callers zero the padding lanes). No function calls inside loops: V8 does not
;; inline WebAssembly calls, and a call per vector cost more than the arithmetic.
(module
  (memory (export "memory") 1)

  ;; acc[i] = (first ? +0 : acc[i]) + w·x[i], x float32.
  (func (export "accF32") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (local $end i32) (local $wv v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv) (v128.load (local.get $x)))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end))))))

  ;; x in fp16 or bf16: 4 values a step, zero-extended to 32 bits by one load.
  ;; bf16 → float32: the bf16 bits are the upper half of the float32's.
  (func (export "accBF16") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (local $end i32) (local $wv v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv) (i32x4.shl (v128.load16x4_u (local.get $x)) (i32.const 16)))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end))))))

  ;; x in fp16 → float32, exact: the 15 magnitude bits shifted into float32's exponent/mantissa
  ;; field and scaled by 2^112 (the bias difference; subnormal fp16 become exact normal floats);
  ;; an all-ones fp16 exponent (Inf, NaN) gets float32's all-ones exponent instead.
  (func (export "accF16") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (local $end i32) (local $wv v128) (local $h v128) (local $m v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (local.set $h (v128.load16x4_u (local.get $x)))
        (local.set $m (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv)
              (v128.or
                (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))
                (v128.bitselect
                  (v128.or (local.get $m) (v128.const i32x4 0x70000000 0x70000000 0x70000000 0x70000000))
                  (f32x4.mul (local.get $m) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
                  (i32x4.ge_u (local.get $m) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)))))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 8)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end))))))

  ;; 1 when some float32 is ±Inf or NaN: adding 2^23 to an all-ones exponent carries into bit 31.
  (func (export "anyNonFinite32") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $flags v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $next
        (local.set $flags (v128.or (local.get $flags)
          (i32x4.add
            (v128.and (v128.load (local.get $p)) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
            (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $p) (local.get $end)))))
    (v128.any_true (v128.and (local.get $flags) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))

  ;; float32 src → fp16 dst, round-to-nearest-even (halfPrecision.f32BitsToF16Bits), 4 values a
  ;; step. Returns 1 when some result has an all-ones exponent (Inf or NaN): (h & 0x7fff) + 0x400
  ;; reaches bit 15 exactly for those codes.
  (func (export "encodeF16") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (local $end i32) (local $b v128) (local $abs v128) (local $h v128) (local $flags v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $b (v128.load (local.get $src)))
        (local.set $abs (v128.and (local.get $b) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        ;; normal: rebias, then add 0xfff plus the kept lsb so the carry rounds to nearest even; cap at Inf
        (local.set $h
          (i32x4.min_u
            (i32x4.shr_u
              (i32x4.add
                (i32x4.add (i32x4.sub (local.get $abs) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
                           (v128.const i32x4 0xfff 0xfff 0xfff 0xfff))
                (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
              (i32.const 13))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
        ;; below 2^-14: adding 0.5 rounds |x| to the 2^-24 grid (RNE); the low bits are the subnormal code
        (local.set $h (v128.bitselect
          (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
          (local.get $h)
          (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        ;; Inf → 0x7c00; NaN → quiet NaN keeping the top payload bits
        (local.set $h (v128.bitselect
          (v128.bitselect
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)
            (v128.or (v128.const i32x4 0x7e00 0x7e00 0x7e00 0x7e00)
                     (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 0x3ff 0x3ff 0x3ff 0x3ff)))
            (i32x4.eq (local.get $abs) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
          (local.get $h)
          (i32x4.ge_u (local.get $abs) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        (local.set $flags (v128.or (local.get $flags) (i32x4.add (local.get $h) (v128.const i32x4 0x400 0x400 0x400 0x400))))
        (local.set $h (v128.or (local.get $h)
          (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store64_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $h) (local.get $h)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (v128.and (local.get $flags) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))

    ;; float32 src → bf16 dst, round-to-nearest-even; NaN stays NaN with the quiet bit
  ;; (halfPrecision.f32BitsToBf16Bits). Flag as encodeF16, with 0x80 for bf16's exponent.
  (func (export "encodeBF16") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (local $end i32) (local $b v128) (local $top v128) (local $h v128) (local $flags v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $b (v128.load (local.get $src)))
        (local.set $top (i32x4.shr_u (local.get $b) (i32.const 16)))
        (local.set $h
          (v128.bitselect
            (v128.or (local.get $top) (v128.const i32x4 0x40 0x40 0x40 0x40))
            (i32x4.shr_u
              (i32x4.add (i32x4.add (local.get $b) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
                         (v128.and (local.get $top) (v128.const i32x4 1 1 1 1)))
              (i32.const 16))
            (i32x4.gt_u
              (v128.and (local.get $b) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
              (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        (local.set $flags (v128.or (local.get $flags)
          (i32x4.add (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (v128.const i32x4 0x80 0x80 0x80 0x80))))
        (v128.store64_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $h) (local.get $h)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (v128.and (local.get $flags) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
)
