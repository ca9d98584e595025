;; SIMD kernel of the label-resolution argmax (128-bit WebAssembly SIMD, 2 float64 lanes).
;;
;; Source of resizeKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt). It gives
;; the same bits as the scalar loop it replaces in ../fastResizeArgmax.ts: float32 inputs are
;; widened exactly, products and the sum are IEEE 754 binary64 (what JavaScript's arithmetic on
;; numbers is), and a class replaces the best so far only when its value is strictly greater, so
;; ties (and NaNs, which compare false) keep the lowest class. Pointers are byte offsets into the
;; exported memory.
(module
  (memory (export "memory") 1)

;; For the first n pixels (n a multiple of 4) of an output row `width` pixels wide: the argmax
  ;; over `channels` classes of a[k][x]·wy0 + b[k][x]·wy1, where a and b are the two horizontally
  ;; resized source rows, float32 [channels][width] each. Class ids go to out as uint16, four pixels a step (two
  ;; independent pairs, so one pair's comparison does not wait for the other's arithmetic).
  (func (export "blendArgmax") (param $a i32) (param $b i32) (param $wy0 f64) (param $wy1 f64) (param $channels i32) (param $n i32) (param $width i32) (param $out i32)
    (local $x i32) (local $end i32) (local $stride i32) (local $k i32) (local $pa i32) (local $pb i32) (local $o i32)
    (local $w0 v128) (local $w1 v128) (local $kv v128) (local $va v128) (local $vb v128)
    (local $v v128) (local $m v128) (local $best v128) (local $arg v128) (local $best2 v128) (local $arg2 v128)
    (local.set $w0 (f64x2.splat (local.get $wy0)))
    (local.set $w1 (f64x2.splat (local.get $wy1)))
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $x (i32.const 0))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $pixels
        (local.set $best (f64x2.splat (f64.const -inf)))
        (local.set $best2 (f64x2.splat (f64.const -inf)))
        (local.set $arg (v128.const i64x2 0 0))
        (local.set $arg2 (v128.const i64x2 0 0))
        (local.set $kv (v128.const i64x2 0 0))
        (local.set $pa (i32.add (local.get $a) (local.get $x)))
        (local.set $pb (i32.add (local.get $b) (local.get $x)))
        (local.set $k (i32.const 0))
        (block $classesDone
          (br_if $classesDone (i32.ge_u (local.get $k) (local.get $channels)))
          (loop $classes
            (local.set $va (v128.load (local.get $pa)))
            (local.set $vb (v128.load (local.get $pb)))
            ;; pixels x, x + 1: the low halves
            (local.set $v
              (f64x2.add
                (f64x2.mul (f64x2.promote_low_f32x4 (local.get $va)) (local.get $w0))
                (f64x2.mul (f64x2.promote_low_f32x4 (local.get $vb)) (local.get $w1))))
            (local.set $m (f64x2.gt (local.get $v) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
            (local.set $arg (v128.bitselect (local.get $kv) (local.get $arg) (local.get $m)))
            ;; pixels x + 2, x + 3: the high halves moved down
            (local.set $v
              (f64x2.add
                (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $va) (local.get $va))) (local.get $w0))
                (f64x2.mul (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vb) (local.get $vb))) (local.get $w1))))
            (local.set $m (f64x2.gt (local.get $v) (local.get $best2)))
            (local.set $best2 (v128.bitselect (local.get $v) (local.get $best2) (local.get $m)))
            (local.set $arg2 (v128.bitselect (local.get $kv) (local.get $arg2) (local.get $m)))
            (local.set $kv (i64x2.add (local.get $kv) (v128.const i64x2 1 1)))
            (local.set $pa (i32.add (local.get $pa) (local.get $stride)))
            (local.set $pb (i32.add (local.get $pb) (local.get $stride)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $classes (i32.lt_u (local.get $k) (local.get $channels)))))
        ;; pixels x/4 … x/4 + 3: uint16 at out + x/2
        (local.set $o (i32.add (local.get $out) (i32.shr_u (local.get $x) (i32.const 1))))
        (i32.store16 offset=0 (local.get $o) (i32.wrap_i64 (i64x2.extract_lane 0 (local.get $arg))))
        (i32.store16 offset=2 (local.get $o) (i32.wrap_i64 (i64x2.extract_lane 1 (local.get $arg))))
        (i32.store16 offset=4 (local.get $o) (i32.wrap_i64 (i64x2.extract_lane 0 (local.get $arg2))))
        (i32.store16 offset=6 (local.get $o) (i32.wrap_i64 (i64x2.extract_lane 1 (local.get $arg2))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $pixels (i32.lt_u (local.get $x) (local.get $end))))))
)
