;; SIMD kernels of the LAYERWISE merge (128-bit WebAssembly SIMD, 4 float32 lanes).
;;
;; Source of mergeKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt). Every
;; function gives the same bits as its scalar counterpart in ../mergeKernels.ts and
;; ../encodeFloats.ts: WebAssembly float32 arithmetic is IEEE 754 binary32 with round-to-nearest-
;; even and no flush-to-zero, which is what Math.fround after every operation computes.
;; Pointers are byte offsets into the exported memory; n counts elements and is a multiple of 8
;; (callers zero the padding lanes).
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

  ;; bf16 → float32: the bf16 bits are the upper half of the float32's.
  (func $bf16 (param $h v128) (result v128)
    (i32x4.shl (local.get $h) (i32.const 16)))

  ;; fp16 → float32, exact: the 15 magnitude bits shifted into float32's exponent/mantissa
  ;; field and scaled by 2^112 (the bias difference; subnormal fp16 become exact normal floats);
  ;; an all-ones fp16 exponent (Inf, NaN) gets float32's all-ones exponent instead.
  (func $f16 (param $h v128) (result v128)
    (local $m v128) (local $s v128)
    (local.set $m (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
    (local.set $s (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16)))
    (v128.or (local.get $s)
      (v128.bitselect
        (v128.or (local.get $m) (v128.const i32x4 0x70000000 0x70000000 0x70000000 0x70000000))
        (f32x4.mul (local.get $m) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
        (i32x4.ge_u (local.get $m) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)))))

  ;; acc[i] = (first ? +0 : acc[i]) + w·x[i] for x in a 16-bit format ($isF16 = 1: fp16, 0: bf16).
  (func $accHalf (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32) (param $isF16 i32)
    (local $end i32) (local $wv v128) (local $h v128) (local $lo v128) (local $hi v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (local.set $h (v128.load (local.get $x)))
        (local.set $lo (i32x4.extend_low_i16x8_u (local.get $h)))
        (local.set $hi (i32x4.extend_high_i16x8_u (local.get $h)))
        (if (local.get $isF16)
          (then
            (local.set $lo (call $f16 (local.get $lo)))
            (local.set $hi (call $f16 (local.get $hi))))
          (else
            (local.set $lo (call $bf16 (local.get $lo)))
            (local.set $hi (call $bf16 (local.get $hi)))))
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv) (local.get $lo))))
        (v128.store offset=16 (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load offset=16 (local.get $acc))))
            (f32x4.mul (local.get $wv) (local.get $hi))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end))))))

  (func (export "accF16") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (call $accHalf (local.get $acc) (local.get $x) (local.get $n) (local.get $w) (local.get $first) (i32.const 1)))

  (func (export "accBF16") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (call $accHalf (local.get $acc) (local.get $x) (local.get $n) (local.get $w) (local.get $first) (i32.const 0)))

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

  ;; float32 bits → fp16 bits in 4 lanes, round-to-nearest-even (halfPrecision.f32BitsToF16Bits).
  (func $toF16 (param $b v128) (result v128)
    (local $abs v128) (local $h v128) (local $sub v128) (local $special v128)
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
    (local.set $sub
      (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                 (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000)))
    ;; Inf → 0x7c00; NaN → quiet NaN keeping the top payload bits
    (local.set $special
      (v128.bitselect
        (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)
        (v128.or (v128.const i32x4 0x7e00 0x7e00 0x7e00 0x7e00)
                 (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 0x3ff 0x3ff 0x3ff 0x3ff)))
        (i32x4.eq (local.get $abs) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
    (local.set $h (v128.bitselect (local.get $sub) (local.get $h)
      (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
    (local.set $h (v128.bitselect (local.get $special) (local.get $h)
      (i32x4.ge_u (local.get $abs) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
    (v128.or (local.get $h)
      (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))

  ;; float32 bits → bf16 bits in 4 lanes, round-to-nearest-even; NaN stays NaN with the quiet bit.
  (func $toBF16 (param $b v128) (result v128)
    (local $top v128)
    (local.set $top (i32x4.shr_u (local.get $b) (i32.const 16)))
    (v128.bitselect
      (v128.or (local.get $top) (v128.const i32x4 0x40 0x40 0x40 0x40))
      (i32x4.shr_u
        (i32x4.add (i32x4.add (local.get $b) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
                   (v128.and (local.get $top) (v128.const i32x4 1 1 1 1)))
        (i32.const 16))
      (i32x4.gt_u
        (v128.and (local.get $b) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
        (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))

  ;; float32 src → 16-bit dst ($isF16 = 1: fp16, 0: bf16); returns 1 when some result has an
  ;; all-ones exponent (Inf or NaN): (h & 0x7fff) + $edge reaches bit 15 exactly for those codes
  ;; ($edge = 0x8000 − 0x7c00 for fp16, 0x8000 − 0x7f80 for bf16).
  (func $encodeHalf (param $src i32) (param $dst i32) (param $n i32) (param $isF16 i32) (result i32)
    (local $end i32) (local $lo v128) (local $hi v128) (local $flags v128) (local $edge v128)
    (local.set $edge (select (v128.const i32x4 0x400 0x400 0x400 0x400) (v128.const i32x4 0x80 0x80 0x80 0x80) (local.get $isF16)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (if (local.get $isF16)
          (then
            (local.set $lo (call $toF16 (v128.load (local.get $src))))
            (local.set $hi (call $toF16 (v128.load offset=16 (local.get $src)))))
          (else
            (local.set $lo (call $toBF16 (v128.load (local.get $src))))
            (local.set $hi (call $toBF16 (v128.load offset=16 (local.get $src))))))
        (local.set $flags (v128.or (local.get $flags)
          (v128.or
            (i32x4.add (v128.and (local.get $lo) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (local.get $edge))
            (i32x4.add (v128.and (local.get $hi) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (local.get $edge)))))
        (v128.store (local.get $dst) (i16x8.narrow_i32x4_u (local.get $lo) (local.get $hi)))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (v128.and (local.get $flags) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))

  (func (export "encodeF16") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (call $encodeHalf (local.get $src) (local.get $dst) (local.get $n) (i32.const 1)))

  (func (export "encodeBF16") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (call $encodeHalf (local.get $src) (local.get $dst) (local.get $n) (i32.const 0)))
)
