<?php
// IOTPay's published demo signing routine (para_filter, arg_sort, create_linkstring, build_mysign),
// run with php-cli to compute known answers outside the project's Python code.
//
//   php iotpay_demo_sign.php < channel-inputs.json > ../channel-vectors.json
//
// Input: {"about": ..., "vectors": [{"name", "key", "params"}...]}; output: the same, each vector with
// the exact `string` hashed and its `sign`. Running it on ../sign-vectors.json reproduces every sign
// there (tests/iotpay/test_channel_vectors.py checks that when php is installed).

function para_filter($para) {
    $filtered = array();
    foreach ($para as $key => $val) {
        if ($key == "sign" || $val === null || $val === "") continue;
        $filtered[$key] = $val;
    }
    return $filtered;
}

function arg_sort($para) {
    ksort($para);
    reset($para);
    return $para;
}

function create_linkstring($para) {
    $arg = "";
    foreach ($para as $key => $val) {
        $arg .= $key . "=" . $val . "&";
    }
    return substr($arg, 0, strlen($arg) - 1);
}

function build_mysign($sort_array, $key) {
    $prestr = create_linkstring($sort_array) . "&key=" . $key;
    return array($prestr, strtoupper(md5($prestr)));
}

// Objects stay objects (an empty {} must not come back as []); only the params become an array.
$input = json_decode(stream_get_contents(STDIN), false);
foreach ($input->vectors as $vector) {
    list($string, $sign) = build_mysign(arg_sort(para_filter((array) $vector->params)), $vector->key);
    $vector->string = $string;
    $vector->sign = $sign;
}
$out = $input;
echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
