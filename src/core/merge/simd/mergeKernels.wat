;; SIMD kernels of the LAYERWISE merge (128-bit WebAssembly SIMD, 4 float32 lanes).
;;
;; Source of mergeKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt). Every
;; function gives the same bits as its scalar counterpart in ../mergeKernels.ts and
;; ../encodeFloats.ts: WebAssembly float32 arithmetic is IEEE 754 binary32 with round-to-nearest-
;; even and no flush-to-zero, which is what Math.fround after every operation computes.
;; Pointers are byte offsets into the exported memory; n counts elements, 4 per step, and is a
;; multiple of 16 (callers zero the padding lanes). No function calls inside loops: V8 does not
;; inline WebAssembly calls, and a call per vector cost more than the arithmetic.
(module
  (memory (export "memory") 1 65536 shared)

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

  ;; x in bf16, 8 values a step: a bf16's bits are the upper half of its float32's, so
  ;; interleaving the halves with zeros gives the float32s.
  (func (export "accBF16") (param $acc i32) (param $x i32) (param $n i32) (param $w f32) (param $first i32)
    (local $end i32) (local $wv v128) (local $h v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (local.set $h (v128.load (local.get $x)))
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv) (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (v128.const i32x4 0 0 0 0) (local.get $h)))))
        (v128.store offset=16 (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load offset=16 (local.get $acc))))
            (f32x4.mul (local.get $wv) (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (v128.const i32x4 0 0 0 0) (local.get $h)))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end))))))

  ;; x in fp16, 8 values a step. The float32 with the fp16's sign and its 15 magnitude bits
  ;; shifted left by 13 is exactly the fp16 value times 2^-112 (fp16 subnormals become float32
  ;; subnormals), so multiplying it by $w112 = w·2^112 (the caller's; exact for |w| < 2^15) rounds
  ;; the same real product w·x as the scalar kernel, bit for bit. Interleaving the halves with zeros
  ;; puts each in the top of a 32-bit lane; an arithmetic shift by 3 then leaves the sign in bit
  ;; 31 (copied into 30..28, masked off) and the magnitude in bits 27..13.
  ;; Returns 1 when some x is Inf or NaN (magnitude above 0x7bff): those lanes are then not the
  ;; scalar kernel's, and the caller refuses the chunk.
  (func (export "accF16") (param $acc i32) (param $x i32) (param $n i32) (param $w112 f32) (param $first i32) (result i32)
    (local $end i32) (local $wv v128) (local $h v128) (local $flags v128)
    (local.set $wv (f32x4.splat (local.get $w112)))
    (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $acc) (local.get $end)))
      (loop $next
        (local.set $h (v128.load (local.get $x)))
        (local.set $flags (v128.or (local.get $flags)
          (i16x8.gt_u (v128.and (local.get $h) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))
                      (v128.const i16x8 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff))))
        (v128.store (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load (local.get $acc))))
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (v128.const i32x4 0 0 0 0) (local.get $h))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
        (v128.store offset=16 (local.get $acc)
          (f32x4.add
            (if (result v128) (local.get $first)
              (then (v128.const i32x4 0 0 0 0))
              (else (v128.load offset=16 (local.get $acc))))
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (v128.const i32x4 0 0 0 0) (local.get $h))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $acc) (local.get $end)))))
    (v128.any_true (local.get $flags)))

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

  ;; The same sums with every input of a chunk at once, the result kept in registers and encoded
  ;; as it is made: no float32 accumulator goes through memory, and each input is read once.
  ;; $list holds $count records of 8 bytes: an i32 pointer to the input's chunk and its f32
  ;; weight. The lanes see exactly the operations of acc* for each input in order, from +0
  ;; (adding to +0 first, as `first` does), then of encodeF16 / the float32 store, so the bits
  ;; are theirs. Both return 1 when the chunk is to be refused, as the separate kernels'
  ;; flags say (an fp16 input Inf or NaN, or a result not finite in the output's dtype).

  ;; fp16 inputs (weights w·2^112, as accF16) → fp16 dst, 16 values a step (two vectors of
  ;; each input per record read: the record's load and the loop cost less per value). An input's
  ;; Inf or NaN is found from the largest magnitude seen, compared once at the end.
  (func (export "mixF16") (param $dst i32) (param $list i32) (param $count i32) (param $n i32) (result i32)
    (local $off i32) (local $end i32) (local $rec i32) (local $recEnd i32)
    (local $lo v128) (local $hi v128) (local $h v128) (local $wv v128) (local $flags v128)
    (local $abs v128) (local $e0 v128) (local $e1 v128) (local $most v128)
    (local $x i32) (local $h2 v128) (local $lo2 v128) (local $hi2 v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 1)))
    (local.set $recEnd (i32.add (local.get $list) (i32.shl (local.get $count) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (loop $next
        (local.set $lo (v128.const i32x4 0 0 0 0))
        (local.set $hi (v128.const i32x4 0 0 0 0))
        (local.set $lo2 (v128.const i32x4 0 0 0 0))
        (local.set $hi2 (v128.const i32x4 0 0 0 0))
        (local.set $rec (local.get $list))
        (loop $input
          (local.set $x (i32.add (i32.load (local.get $rec)) (local.get $off)))
          (local.set $h (v128.load (local.get $x)))
          (local.set $h2 (v128.load offset=16 (local.get $x)))
          (local.set $wv (f32x4.splat (f32.load offset=4 (local.get $rec))))
          (local.set $most (i16x8.max_u (local.get $most)
            (v128.and (local.get $h) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
          (local.set $lo (f32x4.add (local.get $lo)
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (v128.const i32x4 0 0 0 0) (local.get $h))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
          (local.set $hi (f32x4.add (local.get $hi)
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (v128.const i32x4 0 0 0 0) (local.get $h))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
          (local.set $most (i16x8.max_u (local.get $most)
            (v128.and (local.get $h2) (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))))
          (local.set $lo2 (f32x4.add (local.get $lo2)
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (v128.const i32x4 0 0 0 0) (local.get $h2))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
          (local.set $hi2 (f32x4.add (local.get $hi2)
            (f32x4.mul (local.get $wv)
              (v128.and
                (i32x4.shr_s
                  (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (v128.const i32x4 0 0 0 0) (local.get $h2))
                  (i32.const 3))
                (v128.const i32x4 0x8fffffff 0x8fffffff 0x8fffffff 0x8fffffff)))))
          (local.set $rec (i32.add (local.get $rec) (i32.const 8)))
          (br_if $input (i32.lt_u (local.get $rec) (local.get $recEnd))))
        (local.set $abs (v128.and (local.get $lo) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $e0
          (i32x4.min_u
            (i32x4.shr_u
              (i32x4.add
                (i32x4.add (i32x4.sub (local.get $abs) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
                           (v128.const i32x4 0xfff 0xfff 0xfff 0xfff))
                (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
              (i32.const 13))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
        (local.set $e0 (v128.bitselect
          (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
          (local.get $e0)
          (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $e0) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $e0 (v128.or (local.get $e0)
          (v128.and (i32x4.shr_u (local.get $lo) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (local.set $abs (v128.and (local.get $hi) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $e1
          (i32x4.min_u
            (i32x4.shr_u
              (i32x4.add
                (i32x4.add (i32x4.sub (local.get $abs) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
                           (v128.const i32x4 0xfff 0xfff 0xfff 0xfff))
                (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
              (i32.const 13))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
        (local.set $e1 (v128.bitselect
          (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
          (local.get $e1)
          (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $e1) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $e1 (v128.or (local.get $e1)
          (v128.and (i32x4.shr_u (local.get $hi) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store (i32.add (local.get $dst) (local.get $off)) (i16x8.narrow_i32x4_u (local.get $e0) (local.get $e1)))
        (local.set $abs (v128.and (local.get $lo2) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $e0
          (i32x4.min_u
            (i32x4.shr_u
              (i32x4.add
                (i32x4.add (i32x4.sub (local.get $abs) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
                           (v128.const i32x4 0xfff 0xfff 0xfff 0xfff))
                (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
              (i32.const 13))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
        (local.set $e0 (v128.bitselect
          (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
          (local.get $e0)
          (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $e0) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $e0 (v128.or (local.get $e0)
          (v128.and (i32x4.shr_u (local.get $lo2) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (local.set $abs (v128.and (local.get $hi2) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $e1
          (i32x4.min_u
            (i32x4.shr_u
              (i32x4.add
                (i32x4.add (i32x4.sub (local.get $abs) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))
                           (v128.const i32x4 0xfff 0xfff 0xfff 0xfff))
                (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
              (i32.const 13))
            (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
        (local.set $e1 (v128.bitselect
          (i32x4.sub (f32x4.add (local.get $abs) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
          (local.get $e1)
          (i32x4.lt_u (local.get $abs) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))))
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $e1) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $e1 (v128.or (local.get $e1)
          (v128.and (i32x4.shr_u (local.get $hi2) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store offset=16 (i32.add (local.get $dst) (local.get $off)) (i16x8.narrow_i32x4_u (local.get $e0) (local.get $e1)))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $off) (local.get $end)))))
    (v128.any_true (v128.or (local.get $flags)
      (i16x8.gt_u (local.get $most) (v128.const i16x8 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff 0x7bff)))))

  ;; float32 inputs → float32 dst, 8 values a step; the flag as anyNonFinite32's.
  (func (export "mixF32") (param $dst i32) (param $list i32) (param $count i32) (param $n i32) (result i32)
    (local $off i32) (local $end i32) (local $rec i32) (local $recEnd i32) (local $x i32)
    (local $lo v128) (local $hi v128) (local $wv v128) (local $flags v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $recEnd (i32.add (local.get $list) (i32.shl (local.get $count) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (loop $next
        (local.set $lo (v128.const i32x4 0 0 0 0))
        (local.set $hi (v128.const i32x4 0 0 0 0))
        (local.set $rec (local.get $list))
        (loop $input
          (local.set $x (i32.add (i32.load (local.get $rec)) (local.get $off)))
          (local.set $wv (f32x4.splat (f32.load offset=4 (local.get $rec))))
          (local.set $lo (f32x4.add (local.get $lo) (f32x4.mul (local.get $wv) (v128.load (local.get $x)))))
          (local.set $hi (f32x4.add (local.get $hi) (f32x4.mul (local.get $wv) (v128.load offset=16 (local.get $x)))))
          (local.set $rec (i32.add (local.get $rec) (i32.const 8)))
          (br_if $input (i32.lt_u (local.get $rec) (local.get $recEnd))))
        (v128.store (i32.add (local.get $dst) (local.get $off)) (local.get $lo))
        (v128.store offset=16 (i32.add (local.get $dst) (local.get $off)) (local.get $hi))
        (local.set $flags (v128.or (local.get $flags)
          (v128.or
            (i32x4.add (v128.and (local.get $lo) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
                       (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))
            (i32x4.add (v128.and (local.get $hi) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
                       (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000)))))
        (local.set $off (i32.add (local.get $off) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $off) (local.get $end)))))
    (v128.any_true (v128.and (local.get $flags) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))

  ;; float32 src → fp16 dst, round-to-nearest-even (halfPrecision.f32BitsToF16Bits) for every
  ;; value that is finite in fp16, 8 values a step. Values beyond fp16's range, ±Inf and NaN all
  ;; become the Inf code 0x7c00 (the scalar codec keeps NaN a NaN) and make it return 1: the
  ;; merge refuses such a chunk, so those bytes are never written.
  (func (export "encodeF16") (param $src i32) (param $dst i32) (param $n i32) (result i32)
    (local $end i32) (local $b v128) (local $abs v128) (local $h v128) (local $lo v128) (local $flags v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $b (v128.load offset=0 (local.get $src)))
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
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $h) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $lo (v128.or (local.get $h)
          (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (local.set $b (v128.load offset=16 (local.get $src)))
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
        (local.set $flags (v128.or (local.get $flags) (i32x4.eq (local.get $h) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $h (v128.or (local.get $h)
          (v128.and (i32x4.shr_u (local.get $b) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store (local.get $dst) (i16x8.narrow_i32x4_u (local.get $lo) (local.get $h)))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (local.get $flags)))

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
